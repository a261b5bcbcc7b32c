"""The value types of ctr's settings: how each is parsed from text and described in a JSON schema."""

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

from ctr.campaigns import Campaign, format_campaigns, parse_campaigns, parse_weights
from ctr.durations import DURATION_PATTERN, format_duration, parse_duration

CAMPAIGN_NAME = r"""[^,=/\\\s"']+"""
_TRUE_CTR = r"(=(0(\.[0-9]+)?|1(\.0+)?))?"
CAMPAIGNS_PATTERN = f"^([0-9]+|{CAMPAIGN_NAME}{_TRUE_CTR}(,{CAMPAIGN_NAME}{_TRUE_CTR})*)$"
WEIGHTS_PATTERN = r"^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$"


def _from_text(parse: Any) -> BeforeValidator:
    """Parse a value given as text (a flag, an environment variable, a YAML string) with ``parse``."""
    return BeforeValidator(lambda value: parse(value.strip()) if isinstance(value, str) else value)


def _list_text(value: Any) -> Any:
    """A campaign or weight list given as a YAML list or mapping, written as the text a flag takes; any
    other value as it is."""
    if isinstance(value, dict):
        return ",".join(f"{name}={ctr}" if ctr is not None else str(name) for name, ctr in value.items())
    if isinstance(value, (list, tuple)) and not (value and isinstance(value[0], Campaign)):
        return ",".join(str(item) for item in value)
    return value


def _campaigns(value: Any) -> Any:
    value = _list_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return parse_campaigns(value) if isinstance(value, str) else value


def _whole_milliseconds(seconds: float) -> float:
    """``seconds`` if it is a whole number of milliseconds (Flink's and Kafka's unit of time)."""
    if abs(seconds * 1000 - round(seconds * 1000)) > 1e-6:
        raise ValueError(f"{seconds * 1000:g}ms is not a whole number of milliseconds")
    return seconds


#: A length of time in whole milliseconds: ``500ms``, ``30s``, ``2m`` or ``1h`` as text, seconds as a
#: number.
Duration = Annotated[
    float,
    _from_text(parse_duration),
    AfterValidator(_whole_milliseconds),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN}),
]

#: Text that must not be empty.
Text = Annotated[str, Field(min_length=1)]

#: A TCP port.
Port = Annotated[int, Field(ge=1, le=65535)]

#: Campaigns: a count N (campaign-1..N) or names with an optional true CTR each.
Campaigns = Annotated[
    tuple[Campaign, ...],
    BeforeValidator(_campaigns),
    PlainSerializer(format_campaigns, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": CAMPAIGNS_PATTERN}),
]

#: Relative weights of the campaigns, each > 0.
Weights = Annotated[
    tuple[float, ...],
    BeforeValidator(
        lambda value: parse_weights(_list_text(value)) if isinstance(_list_text(value), str) else value
    ),
    PlainSerializer(lambda weights: ",".join(f"{w:g}" for w in weights), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": WEIGHTS_PATTERN}),
]
