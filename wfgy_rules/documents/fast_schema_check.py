"""A fast yes/no check of a document against our JSON Schemas, without importing jsonschema.

``import jsonschema`` costs ~65 ms, a third of a cold ``wfgy-rules eval``; almost every run
loads valid files. So validation first asks this small interpreter "is it valid?"; only
when the answer is not a clear yes does `wfgy_rules.documents.schema` import jsonschema to explain
what is wrong. It understands the keywords our schemas (and the built-in providers'
config schemas) use; any other keyword makes it answer None ("don't know"), which also
falls back to jsonschema.

Speed-up: must agree with ``jsonschema`` (Draft 2020-12) on every document it answers for;
``tests/documents/test_fast_schema_check.py`` checks that on generated documents.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "default", "examples", "$defs", "$comment", "format", "deprecated", "readOnly", "writeOnly"})


class _Unknown(Exception):
    """A keyword this checker does not implement."""


def is_valid(schema: dict[str, Any], instance: Any) -> bool | None:
    """True or False when sure; None when the schema uses a keyword not implemented here."""
    try:
        return _valid(schema, instance, schema)
    except _Unknown:
        return None


def _valid(schema: Any, value: Any, root: dict[str, Any]) -> bool:
    if schema is True:
        return True
    if schema is False:
        return False
    for keyword, expected in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        check = _KEYWORDS.get(keyword)
        if check is None:
            raise _Unknown(keyword)
        if not check(expected, value, schema, root):
            return False
    return True


def _is_type(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "number":
        return isinstance(value, (int, float))
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    raise _Unknown(f"type {name}")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@lru_cache(maxsize=256)
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """A schema ``pattern`` with JSON Schema's (ECMA-262) meaning, for Python's `re`: ``\\d``
    and ``\\w`` are ASCII only, and ``$`` is the end of the string (Python's ``$`` also
    matches before a final newline, so ``"2027-01-01\\n"`` would pass ``^…$``).

    Both this checker and the jsonschema explainer (`wfgy_rules.documents.schema`) use it."""
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == "]":
            in_class = False
            out.append(char)
        else:
            out.append("\\Z" if char == "$" and not in_class else char)
    return re.compile("".join(out), re.ASCII)


def _ref(ref: str, value: Any, schema: dict, root: dict) -> bool:
    if not ref.startswith("#/"):
        raise _Unknown(ref)
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return _valid(target, value, root)


def _properties(props: dict, value: Any, schema: dict, root: dict) -> bool:
    if not isinstance(value, dict):
        return True
    return all(_valid(sub, value[key], root) for key, sub in props.items() if key in value)


def _additional(extra: Any, value: Any, schema: dict, root: dict) -> bool:
    if not isinstance(value, dict):
        return True
    if "patternProperties" in schema:
        raise _Unknown("patternProperties")
    known = schema.get("properties", {})
    return all(_valid(extra, item, root) for key, item in value.items() if key not in known)


def _unique(flag: bool, value: Any, schema: dict, root: dict) -> bool:
    if not flag or not isinstance(value, list):
        return True
    return all(not _equal(value[i], value[j]) for i in range(len(value)) for j in range(i + 1, len(value)))


def _sized(kind: str, compare):
    def check(limit: Any, value: Any, schema: dict, root: dict) -> bool:
        return not _is_type(value, kind) or compare(len(value), limit)

    return check


def _numeric(compare):
    def check(limit: Any, value: Any, schema: dict, root: dict) -> bool:
        return not _is_type(value, "number") or compare(value, limit)

    return check


_KEYWORDS = {
    "type": lambda t, v, s, r: any(_is_type(v, n) for n in ([t] if isinstance(t, str) else t)),
    "enum": lambda options, v, s, r: any(_equal(v, o) for o in options),
    "const": lambda c, v, s, r: _equal(v, c),
    "properties": _properties,
    "required": lambda names, v, s, r: not isinstance(v, dict) or all(n in v for n in names),
    "additionalProperties": _additional,
    "propertyNames": lambda sub, v, s, r: not isinstance(v, dict) or all(_valid(sub, k, r) for k in v),
    "items": lambda sub, v, s, r: not isinstance(v, list) or all(_valid(sub, i, r) for i in v),
    "pattern": lambda p, v, s, r: not isinstance(v, str) or ecma_regex(p).search(v) is not None,
    "minLength": _sized("string", lambda n, limit: n >= limit),
    "maxLength": _sized("string", lambda n, limit: n <= limit),
    "minItems": _sized("array", lambda n, limit: n >= limit),
    "maxItems": _sized("array", lambda n, limit: n <= limit),
    "minProperties": _sized("object", lambda n, limit: n >= limit),
    "maxProperties": _sized("object", lambda n, limit: n <= limit),
    "minimum": _numeric(lambda x, limit: x >= limit),
    "maximum": _numeric(lambda x, limit: x <= limit),
    "exclusiveMinimum": _numeric(lambda x, limit: x > limit),
    "exclusiveMaximum": _numeric(lambda x, limit: x < limit),
    "uniqueItems": _unique,
    "$ref": _ref,
    "anyOf": lambda subs, v, s, r: any(_valid(sub, v, r) for sub in subs),
    "allOf": lambda subs, v, s, r: all(_valid(sub, v, r) for sub in subs),
    "oneOf": lambda subs, v, s, r: sum(1 for sub in subs if _valid(sub, v, r)) == 1,
    "not": lambda sub, v, s, r: not _valid(sub, v, r),
}
