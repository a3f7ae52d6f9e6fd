"""The comparison operators of condition trees: ``OPERATORS[name](left, right, params)``.

Every operator is strict about types: ``true`` never equals ``1``, and comparing a string
with a number raises `EvaluationError` naming both values (an ``error`` result, never a
quiet ``false``). ``null`` may be compared for equality with anything.

=========================  ============================================================
eq / ne                    strict equality (deep for arrays and objects)
lt le gt ge                two numbers or two strings
in / not_in                ``left`` is an element of the array ``right`` (or a substring
                           of the string ``right``, or a key of the object ``right``)
contains / not_contains    the array ``left`` holds ``right`` (or substring of a string)
any_in / all_in            some / every element of the array ``left`` is in the array ``right``
regex                      the string ``left`` matches the pattern ``right`` (search)
exists / absent            ``left`` is not / is null (no right-hand value)
empty / not_empty          ``left`` is / is not ``null``, ``""``, ``[]`` or ``{}``
version_eq … version_ge    versions compared leniently and fail-closed
version_satisfies          ``left`` meets the PEP 440 specifier ``right``
version_compatible         the drift between the versions is within ``params.ignore_versions``
=========================  ============================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wfgy_rules.errors import EvaluationError
from wfgy_rules.jsonvalues import show, type_name
from wfgy_rules.policy import versions
from wfgy_rules.policy.regexes import search as regex_search

Operator = Callable[[Any, Any, dict], bool]

UNARY = frozenset({"exists", "absent", "empty", "not_empty"})


def strict_equal(a: Any, b: Any) -> bool:
    """Equality where values of different JSON types are never equal (``true`` ≠ ``1``)."""
    if type_name(a) != type_name(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    return a == b


def _mismatch(op: str, left: Any, right: Any) -> EvaluationError:
    return EvaluationError(f"{op} cannot compare {show(left)} with {show(right)}")


def _eq(left, right, params):
    if left is not None and right is not None and type_name(left) != type_name(right):
        raise _mismatch("eq", left, right)
    return strict_equal(left, right)


def _ordered(op: str, compare: Callable[[Any, Any], bool]) -> Operator:
    def run(left, right, params):
        kinds = type_name(left), type_name(right)
        if kinds not in (("number", "number"), ("string", "string")):
            raise _mismatch(op, left, right)
        return compare(left, right)

    return run


def _member(op: str, element: Any, collection: Any) -> bool:
    if isinstance(collection, list):
        return any(strict_equal(element, item) for item in collection)
    if isinstance(collection, str) and isinstance(element, str):
        return element in collection
    if isinstance(collection, dict) and isinstance(element, str):
        return element in collection
    raise _mismatch(op, element, collection)


def _array(op: str, value: Any) -> list:
    if not isinstance(value, list):
        raise EvaluationError(f"{op} needs an array, got {show(value)}")
    return value


def _regex(left, right, params):
    if not isinstance(left, str) or not isinstance(right, str):
        raise _mismatch("regex", left, right)
    return regex_search(right, left)


def _empty(op: str, value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (str, list, dict)):
        return len(value) == 0
    raise EvaluationError(f"{op} needs a string, array, object or null, got {show(value)}")


def _version_op(check: Callable[[int], bool]) -> Operator:
    return lambda left, right, params: check(versions.compare(left, right))


def _compatible(left, right, params):
    level = versions.drift(left, right)
    return versions.tolerated(level, params.get("ignore_versions", []))


OPERATORS: dict[str, Operator] = {
    "eq": _eq,
    "ne": lambda l, r, p: not _eq(l, r, p),
    "lt": _ordered("lt", lambda a, b: a < b),
    "le": _ordered("le", lambda a, b: a <= b),
    "gt": _ordered("gt", lambda a, b: a > b),
    "ge": _ordered("ge", lambda a, b: a >= b),
    "in": lambda l, r, p: _member("in", l, r),
    "not_in": lambda l, r, p: not _member("not_in", l, r),
    "contains": lambda l, r, p: _member("contains", r, l),
    "not_contains": lambda l, r, p: not _member("not_contains", r, l),
    "any_in": lambda l, r, p: any(_member("any_in", x, _array("any_in", r)) for x in _array("any_in", l)),
    "all_in": lambda l, r, p: all(_member("all_in", x, _array("all_in", r)) for x in _array("all_in", l)),
    "regex": _regex,
    "exists": lambda l, r, p: l is not None,
    "absent": lambda l, r, p: l is None,
    "empty": lambda l, r, p: _empty("empty", l),
    "not_empty": lambda l, r, p: not _empty("not_empty", l),
    "version_eq": _version_op(lambda c: c == 0),
    "version_lt": _version_op(lambda c: c < 0),
    "version_le": _version_op(lambda c: c <= 0),
    "version_gt": _version_op(lambda c: c > 0),
    "version_ge": _version_op(lambda c: c >= 0),
    "version_satisfies": lambda l, r, p: versions.satisfies(l, r),
    "version_compatible": _compatible,
}
