"""A fast yes/no check of a document against our JSON Schemas, without importing jsonschema.

``import jsonschema`` costs ~65 ms, a third of a cold ``wfgy-rules eval``; almost every run
loads valid files. So validation first asks this small checker "is it valid?"; only
when the answer is not a clear yes does `wfgy_rules.documents.schema` import jsonschema to explain
what is wrong. It understands the keywords our schemas (and the built-in providers'
config schemas) use; any other keyword makes it answer None ("don't know"), which also
falls back to jsonschema. Each schema is compiled once into nested closures (no keyword is
looked up per value): the shape of every rule of a 10,000-rule policy is checked in ~50 ms.

Speed-up: must agree with ``jsonschema`` (Draft 2020-12) on every document it answers for;
``tests/documents/test_fast_schema_check.py`` checks that on generated documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from wfgy_rules.jsonvalues import canonical

_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "default", "examples", "$defs", "$comment", "format", "deprecated", "readOnly", "writeOnly"})


class _Unknown(Exception):
    """A keyword this checker does not implement."""


def is_valid(schema: dict[str, Any], instance: Any) -> bool | None:
    """True or False when sure; None when the schema uses a keyword not implemented here."""
    try:
        check = _compiled(canonical(schema))
    except (TypeError, ValueError):  # not a JSON value: jsonschema decides
        return None
    return None if check is None else check(instance)


@lru_cache(maxsize=64)
def _compiled(schema_text: str) -> Callable[[Any], bool] | None:
    """The schema as one ``check(value) -> bool`` of nested closures (None: a keyword this
    checker does not know), built once per schema: a 10,000-rule policy file checks each
    rule's shape with plain calls instead of re-reading the schema's keywords per value."""
    root = json.loads(schema_text)
    try:
        return _Compiler(root).build(root)
    except _Unknown:
        return None


class _Compiler:
    def __init__(self, root: dict[str, Any]):
        self.root = root
        self.refs: dict[str, list] = {}  # "#/$defs/x" -> [its check], filled once compiled (refs may recurse)

    def build(self, schema: Any) -> Callable[[Any], bool]:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise _Unknown(repr(schema))
        checks = []
        for keyword, expected in schema.items():
            if keyword in _ANNOTATIONS:
                continue
            builder = _KEYWORDS.get(keyword)
            if builder is None:
                raise _Unknown(keyword)
            checks.append(builder(expected, schema, self))
        return _all_of(checks)

    def ref(self, ref: str) -> Callable[[Any], bool]:
        if not ref.startswith("#/"):
            raise _Unknown(ref)
        if ref not in self.refs:
            cell: list = []
            self.refs[ref] = cell
            target: Any = self.root
            try:
                for part in ref[2:].split("/"):
                    target = target[part.replace("~1", "/").replace("~0", "~")]
            except (KeyError, IndexError, TypeError):
                raise _Unknown(ref) from None
            cell.append(self.build(target))
        cell = self.refs[ref]
        return lambda v: cell[0](v)


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _all_of(checks: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    checks_t = tuple(checks)

    def check(value: Any) -> bool:
        for one in checks_t:
            if not one(value):
                return False
        return True

    return check


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


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) or (isinstance(v, float) and v.is_integer())) and not isinstance(v, bool),
}


def _type(names: Any, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    names = [names] if isinstance(names, str) else names
    if any(name not in _TYPES for name in names):
        raise _Unknown(f"type {names}")
    if len(names) == 1:
        return _TYPES[names[0]]
    checks = tuple(_TYPES[name] for name in names)
    return lambda v: any(check(v) for check in checks)


def _enum(options: list, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    if all(type(option) is str for option in options):  # `_equal` of strings: same type, equal
        strings = frozenset(options)
        return lambda v: type(v) is str and v in strings
    return lambda v: any(_equal(v, option) for option in options)


def _const(constant: Any, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    if type(constant) is str:
        return lambda v: type(v) is str and v == constant
    return lambda v: _equal(v, constant)


def _properties(props: dict, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    checks = tuple((key, compiler.build(sub)) for key, sub in props.items())

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key, sub in checks:
            if key in value and not sub(value[key]):
                return False
        return True

    return check


def _required(names: list, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    names_set = frozenset(names)
    return lambda v: not isinstance(v, dict) or names_set.issubset(v)


def _additional(extra: Any, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    if "patternProperties" in schema:
        raise _Unknown("patternProperties")
    known = frozenset(schema.get("properties", {}))
    if extra is False:
        return lambda v: not isinstance(v, dict) or known.issuperset(v)
    sub = compiler.build(extra)
    return lambda v: not isinstance(v, dict) or all(sub(item) for key, item in v.items() if key not in known)


def _property_names(names: Any, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    sub = compiler.build(names)
    return lambda v: not isinstance(v, dict) or all(sub(key) for key in v)


def _items(items: Any, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    sub = compiler.build(items)

    def check(value: Any) -> bool:
        if isinstance(value, list):
            for item in value:
                if not sub(item):
                    return False
        return True

    return check


def _pattern(pattern: str, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    search = ecma_regex(pattern).search
    return lambda v: not isinstance(v, str) or search(v) is not None


def _unique(flag: bool, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    if not flag:
        return _always
    return lambda v: not isinstance(v, list) or all(not _equal(v[i], v[j]) for i in range(len(v)) for j in range(i + 1, len(v)))


def _sized(kind: str, compare):
    is_kind = _TYPES[kind]

    def build(limit: Any, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
        return lambda v: not is_kind(v) or compare(len(v), limit)

    return build


def _numeric(compare):
    is_number = _TYPES["number"]

    def build(limit: Any, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
        return lambda v: not is_number(v) or compare(v, limit)

    return build


def _any_of(subs: list, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    checks = tuple(compiler.build(sub) for sub in subs)
    return lambda v: any(check(v) for check in checks)


def _one_of(subs: list, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    checks = tuple(compiler.build(sub) for sub in subs)
    return lambda v: sum(1 for check in checks if check(v)) == 1


def _not(sub: Any, schema: dict, compiler: _Compiler) -> Callable[[Any], bool]:
    check = compiler.build(sub)
    return lambda v: not check(v)


_KEYWORDS: dict[str, Callable[[Any, dict, _Compiler], Callable[[Any], bool]]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "properties": _properties,
    "required": _required,
    "additionalProperties": _additional,
    "propertyNames": _property_names,
    "items": _items,
    "pattern": _pattern,
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
    "$ref": lambda ref, schema, compiler: compiler.ref(ref),
    "anyOf": _any_of,
    "allOf": lambda subs, schema, compiler: _all_of([compiler.build(sub) for sub in subs]),
    "oneOf": _one_of,
    "not": _not,
}
