"""The shape of each line of a ``jsonl`` report (`wfgy_rules.reporters.jsonl`), checked where
one is read back (``wfgy-rules merge``): a line that is not what ``--format jsonl`` writes is
exit 2 with its FILE:LINE and the JSON path of the first field that is wrong, never a crash.

* a **result line** (it has ``rule_id``): ``status`` one of ``pass fail skip error waived``,
  ``blocking`` true or false, ``rule_id`` a string; in a fleet ``target`` and
  ``bundle_digest`` strings (the other fields are passed through as written);
* a **bundle line** (``target`` and no ``rule_id``): exactly ``target`` and ``bundle_digest``;
* the **closing line** (it has ``outcome``): every field of `wfgy_rules.reporters.jsonl.closing_line`,
  no other, each of its type — counts are whole numbers, ``outcome`` is ``pass`` or ``fail``,
  ``fail_on`` a severity, ``shard`` ``"I/N"`` with 1 ≤ I ≤ N, and with ``shard`` a ``run``
  (`wfgy_rules.run.fleet.RunIdentity`).

Lines are strict JSON (`wfgy_rules.documents.strict_json`): a duplicate key, ``NaN`` or deep
nesting is refused, so that no reader sees another line than this one. Messages name a
field's type, never its value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wfgy_rules.documents import strict_json
from wfgy_rules.errors import Problem, UsageError, did_you_mean
from wfgy_rules.jsonvalues import a_type_name
from wfgy_rules.model import Severity, Status


@dataclass(frozen=True)
class Line:
    """One checked line: where it is, what it is (``result``, ``bundle`` or ``closing``), its
    data and its text as written."""

    number: int
    kind: str
    data: dict[str, Any]
    text: str


def _one_of(*values: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value in values


def _shard(value: Any) -> bool:
    index, sep, count = value.partition("/") if isinstance(value, str) else ("", "", "")
    digits = all(part.isascii() and part.isdigit() for part in (index, count))
    return bool(sep) and digits and 1 <= int(index) <= int(count)


TEXT = (lambda value: isinstance(value, str), "a string")
FLAG = (lambda value: isinstance(value, bool), "true or false")
COUNT = (lambda value: type(value) is int and value >= 0, "a whole number, 0 or more")
STRINGS = (lambda value: isinstance(value, list) and all(isinstance(item, str) for item in value), "an array of strings")
ENV = (lambda value: isinstance(value, dict) and all(isinstance(item, str) for item in value.values()), "an object of strings")
_STATUSES = frozenset(status.value for status in Status)
STATUS = (_one_of(*_STATUSES), "one of " + ", ".join(status.value for status in Status))

RESULT = {"rule_id": TEXT, "status": STATUS, "blocking": FLAG}  # what merge reads of a result; the rest passes through
IN_A_FLEET = {"target": TEXT, "bundle_digest": TEXT}
RUN = {"listing_digest": TEXT, "listed_bundles": COUNT, "config_digest": TEXT,
       "selection": {"only": STRINGS, "skip": STRINGS}, "force": FLAG}
CLOSING = {
    "version": TEXT,
    "tool": {"name": TEXT, "version": TEXT},
    "mode": TEXT,
    "stage": TEXT,
    "outcome": (_one_of("pass", "fail"), "pass or fail"),
    "forced": FLAG,
    "fail_on": (_one_of(*Severity.__members__), "one of " + ", ".join(Severity.__members__)),
    "policy_digest": TEXT,
    "facts_digest": TEXT,
    "summary": {status.value: COUNT for status in Status},
    "bundles": COUNT,
    "fallback_env": ENV,
    "shard": (_shard, 'a string "I/N" with 1 <= I <= N'),
    "run": RUN,
}
OPTIONAL = ("shard", "run")  # a shard's report has both, a whole run's neither


def read_line(path: str, number: int, raw: bytes) -> Line:
    """Line ``number`` of ``path`` (``raw``, its bytes), checked; `UsageError` (exit 2) naming
    FILE:LINE otherwise."""
    try:
        data = strict_json.loads(raw)
    except ValueError as exc:
        raise refused(path, number, f"not a jsonl report line: {getattr(exc, 'msg', exc)}") from None
    if not isinstance(data, dict):
        raise refused(path, number, f"not a jsonl report line: {a_type_name(data)}, expected an object")
    kind, wrong = _kind_and_problem(data)
    if wrong:
        where, message = wrong
        raise refused(path, number, message, where)
    return Line(number, kind, data, raw.decode("utf-8"))


def _kind_and_problem(data: dict[str, Any]) -> tuple[str, tuple[str, str] | None]:
    if "outcome" in data:
        wrong = _exactly(data, CLOSING, "", OPTIONAL)
        if not wrong and ("shard" in data) != ("run" in data):
            wrong = ("run" if "shard" in data else "shard", "missing: a shard's closing line has both shard and run")
        return "closing", wrong
    if "rule_id" in data:
        if _a_fleet_result(data):
            return "result", None
        wrong = _fields(data, {**RESULT, **IN_A_FLEET} if "target" in data else RESULT)
        if not wrong and "bundle_digest" in data:  # a single bundle's results carry its digest too
            wrong = _check(data["bundle_digest"], TEXT, "bundle_digest")
        return "result", wrong
    if "target" in data:
        return "bundle", _exactly(data, IN_A_FLEET, "")
    return "", ("", "not a jsonl report line: neither a result (rule_id), a bundle (target) nor the closing line (outcome)")


def _a_fleet_result(data: dict[str, Any]) -> bool:
    """Whether ``data`` is a well-formed result line of a fleet: the common case, checked at
    once (`_fields` finds what is wrong otherwise)."""
    status = data.get("status")
    return (type(data["rule_id"]) is str and type(status) is str and status in _STATUSES and type(data.get("blocking")) is bool
            and type(data.get("target")) is str and type(data.get("bundle_digest")) is str)


def _fields(data: dict[str, Any], shape: dict[str, Any], where: str = "") -> tuple[str, str] | None:
    """The first field of ``shape`` missing from ``data`` or not of its type: (path, message)."""
    for key, inner in shape.items():
        path = f"{where}.{key}" if where else key
        if key not in data:
            return path, "missing"
        found = _check(data[key], inner, path)
        if found:
            return found
    return None


def _exactly(data: dict[str, Any], shape: dict[str, Any], where: str, optional: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """`_fields` for an object that holds only the keys of ``shape`` (those in ``optional`` may be absent)."""
    for key in data:
        if key not in shape:
            return (f"{where}.{key}" if where else key), f"unknown key{did_you_mean(key, shape)}"
    return _fields(data, {k: v for k, v in shape.items() if k in data or k not in optional}, where)


def _check(value: Any, shape: Any, path: str) -> tuple[str, str] | None:
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return path, f"expected an object, got {a_type_name(value)}"
        return _exactly(value, shape, path)
    accepts, expected = shape
    return None if accepts(value) else (path, f"expected {expected}, got {a_type_name(value)}")


def refused(path: str, number: int, message: str, where: str = "") -> UsageError:
    """The error (exit 2) for ``message`` at line ``number`` of ``path`` (``where``: a JSON path in it)."""
    return UsageError(f"{path}:{number}: {message}", [Problem(path, message, number, where=where)])
