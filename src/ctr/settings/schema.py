"""JSON schemas of settings models, for documents that Kubernetes or Helm validate.

The ``Producer`` CRD and the chart's values schema are generated from these, so their bounds and
defaults are the models' own.
"""

from collections.abc import Iterable
from typing import Any

from ctr.settings.models import Settings

#: Bounds that pydantic leaves, as they are, in the schema of a value it describes as text (an optional
#: duration): a JSON schema cannot bound a duration written as text, so the model alone checks them.
_TEXT_BOUNDS = ("gt", "ge", "lt", "le")


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field's schema without its null branch: such a field is left out, not set to null."""
    branches = schema.get("anyOf")
    if branches is None:
        return schema
    rest = [branch for branch in branches if branch.get("type") != "null"]
    if len(rest) != 1:
        raise ValueError(f"cannot describe {schema} without anyOf")
    return {**{k: v for k, v in schema.items() if k != "anyOf"}, **rest[0]}


def properties(model: type[Settings], names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """The JSON schema (draft 2020-12) of each setting in ``names`` (all by default), keyed by its
    camelCase field.

    Defaults are written as a document writes them (durations as ``30s``); a setting without a
    default has none; no titles.
    """
    schema = model.model_json_schema(by_alias=True)["properties"]
    defaults = model.model_validate({}).model_dump(mode="json", by_alias=True)
    wanted = set(model.model_fields if names is None else names)
    result = {}
    for name, info in model.model_fields.items():
        if name not in wanted:
            continue
        field = info.alias or name
        item = {
            k: v
            for k, v in _without_null(schema[field]).items()
            if k not in ("title", "default", *_TEXT_BOUNDS)
        }
        if info.default is not None:
            item["default"] = info.default if isinstance(info.default, str) else defaults[field]
        result[field] = item
    return result


def openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema (draft 2020-12) as Kubernetes' OpenAPI v3 structural schema writes it."""
    result = dict(schema)
    if "exclusiveMinimum" in result:
        result["minimum"], result["exclusiveMinimum"] = result["exclusiveMinimum"], True
    if "exclusiveMaximum" in result:
        result["maximum"], result["exclusiveMaximum"] = result["exclusiveMaximum"], True
    if result.get("type") == "object" and result.get("additionalProperties") is True:
        del result["additionalProperties"]
        result["x-kubernetes-preserve-unknown-fields"] = True
    return result
