"""JSON value helpers shared by the engine and the reporters: type names, short display,
canonical encoding (the basis of digests and byte-identical reports)."""

from __future__ import annotations

import json

_MAX_SHOWN = 120
# A value built by an expression may share its parts (``[@,@]`` thirty times over is tiny in
# memory yet a billion values written out): nothing renders one with more values than these.
MAX_SHOWN_VALUES = 10_000  # a value in an error message or evidence
MAX_RENDERED_VALUES = 100_000  # a value in a rule's message
MAX_LIST = 1_000_000  # elements one list built during evaluation may hold


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


def a_type_name(value: object) -> str:
    """``a string``, ``an array``: the type of a value, for messages that must not show it."""
    name = type_name(value)
    return ("an " if name[0] in "aeiou" else "a ") + name


def within(value: object, limit: int) -> bool:
    """Whether ``value`` holds at most ``limit`` values, counted as written out (a part shared
    twice counts twice); stops counting as soon as it is over."""
    count, stack = 0, [value]
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            return False
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


def show(value: object) -> str:
    """A short JSON rendering of a value with its type, for error messages: ``"abc" (string)``."""
    if not within(value, MAX_SHOWN_VALUES):
        return f"<{type_name(value)} of more than {MAX_SHOWN_VALUES} values> ({type_name(value)})"
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
