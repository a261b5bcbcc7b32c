"""The one definition of ctr's event schema, used by the producer, the job and the tests.

Both event kinds are JSON objects; ``ts`` is event time in epoch milliseconds and the Kafka
message key of both topics is ``impr_id``.
"""

import json
from typing import NamedTuple, Union


class Impression(NamedTuple):
    """An ad shown to a user."""

    impr_id: str
    user_id: str
    campaign_id: str
    ts: int


class Click(NamedTuple):
    """A user's click on an impression."""

    click_id: str
    impr_id: str
    user_id: str
    ts: int


Event = Union[Impression, Click]

#: Field name -> Python type, in wire order, for each event kind.
IMPRESSION_FIELDS: dict[str, type] = dict(Impression.__annotations__)
CLICK_FIELDS: dict[str, type] = dict(Click.__annotations__)

#: Flink SQL type of each Python field type.
SQL_TYPES: dict[type, str] = {str: "STRING", int: "BIGINT"}


class MalformedEvent(ValueError):
    """A message that is not a valid event; the text says why."""


def encode(event: Event) -> bytes:
    """Return the JSON bytes of ``event``."""
    return json.dumps(event._asdict(), separators=(",", ":")).encode()


def message_key(event: Event) -> bytes:
    """Return the Kafka message key of ``event`` (its ``impr_id``)."""
    return event.impr_id.encode()


def _decode(payload: bytes, kind: type[NamedTuple], fields: dict[str, type]) -> NamedTuple:
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise MalformedEvent(f"not JSON: {err}") from None
    if not isinstance(obj, dict):
        raise MalformedEvent("not a JSON object")
    values = []
    for name, expected in fields.items():
        if obj.get(name) is None:
            raise MalformedEvent(f"missing field {name}")
        value = obj[name]
        if type(value) is not expected:
            raise MalformedEvent(f"field {name} is not {SQL_TYPES[expected]}")
        values.append(value)
    return kind(*values)


def decode_impression(payload: bytes) -> Impression:
    """Parse an impression message, raising MalformedEvent with the reason."""
    return _decode(payload, Impression, IMPRESSION_FIELDS)


def decode_click(payload: bytes) -> Click:
    """Parse a click message, raising MalformedEvent with the reason."""
    return _decode(payload, Click, CLICK_FIELDS)
