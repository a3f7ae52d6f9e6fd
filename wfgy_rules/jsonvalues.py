"""JSON value helpers shared by the engine and the reporters: type names, short display,
canonical encoding (the basis of digests and byte-identical reports)."""

from __future__ import annotations

import json

_MAX_SHOWN = 120


def type_name(value: object) -> str:
    """The JMESPath type name of a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def show(value: object) -> str:
    """A short JSON rendering of a value with its type, for error messages: ``"abc" (string)``."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (ValueError, TypeError):
        text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 1] + "…"
    return f"{text} ({type_name(value)})"


def canonical(value: object) -> str:
    """Canonical JSON: sorted keys, compact separators, UTF-8 text, NaN refused."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
