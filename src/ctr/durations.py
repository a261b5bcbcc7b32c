"""Durations written the one way ctr accepts everywhere: ``500ms``, ``30s``, ``2m``, ``1h``."""

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
#: A duration as a JSON schema pattern (the parser also allows spaces around the number and unit).
DURATION_PATTERN = r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$"
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")


def parse_duration(text: str) -> float:
    """Return the number of seconds in ``text`` (for example ``"500ms"`` -> 0.5).

    Raises ValueError for anything but a non-negative number followed by ms, s, m or h.
    """
    match = _PATTERN.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration (write it like 500ms, 30s, 2m or 1h)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """Write ``seconds`` in the largest unit that keeps it whole (``30.0`` -> ``"30s"``)."""
    millis = round(seconds * 1000)
    for unit, factor in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis and millis % factor == 0:
            return f"{millis // factor}{unit}"
    return f"{millis}ms"
