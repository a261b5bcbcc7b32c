"""Objects checked as the API server checks them, in this process: Kubernetes' own kinds against their
published schemas (kubernetes-validate), custom resources against a CRD's served schema, applied
strictly."""

import copy
import functools
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml


@functools.cache
def crd_from_file(path: Path) -> dict:
    """The CRD in the YAML file ``path``, read once per session (libyaml's loader: an upstream CRD is
    hundreds of kilobytes); do not change it."""
    return yaml.load(path.read_text(), Loader=yaml.CSafeLoader)


def strict(schema: dict) -> dict:
    """The schema with unknown fields rejected, as the API server does with strict field validation."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def served_schema(crd_document: dict, api_version: str) -> dict:
    """The OpenAPI schema a CRD serves for ``api_version`` (group/version)."""
    version = api_version.split("/")[1]
    return next(
        v["schema"]["openAPIV3Schema"]
        for v in crd_document["spec"]["versions"]
        if v["name"] == version and v["served"]
    )


def schema_errors(schema: dict, document: dict) -> list[str]:
    """Why ``document`` fails ``schema`` (OpenAPI v3's subset of JSON Schema draft 4), one line per
    error naming the path of the field (``$.spec.rate: 0 is less than the minimum of 1``); [] when valid."""
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    return [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda error: error.json_path)
    ]


def kubernetes_errors(documents: list[dict], version: str) -> list[str]:
    """Why the API server of Kubernetes ``version`` would refuse Kubernetes' own objects among
    ``documents``, with strict field validation: what ``kubernetes-validate --strict -k VERSION`` reports
    as errors (a kind it has no schema for is left out, as it only warns of those)."""
    errors = []
    for document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(map(str, error.path))
            errors.append(f"{document['kind']} {document['metadata']['name']}: {path}: {error.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError):
            pass
    return errors
