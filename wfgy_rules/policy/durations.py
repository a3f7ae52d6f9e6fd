"""Durations in config and policies: a number of seconds, or ``500ms``, ``90s``, ``2m``, ``1h``."""

from __future__ import annotations

import re

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: object) -> float:
    """Seconds; `ValueError` naming the value when it is not a duration."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{value!r} is not a duration (e.g. 90s, 2m, 500ms)")
    return float(match.group(1)) * _SCALE[match.group(2)]
