"""One fact bundle against another (``diff --facts OLD --facts NEW``): what changed between
the last known-good deploy and the candidate, per provider.

Each provider's facts are flattened into fields: objects by key (``runtime.packages.torch``),
lists of objects by their identifying key (``prompts.files[path=prompts/a.jinja].syntax``,
``nvml.devices[index=0].name``), lists of plain values as sets of members
(``env.names[OPENAI_API_KEY]``), and lists of objects that no key identifies as sets of
whole elements (``…placeholders[{"column":25,"line":4,"name":"ticket_id"}]``). Marks: ``equal``, ``drifted`` (both bundles
have the field with different values; ``level`` when both are versions), ``missing`` (gone
from NEW), ``extra`` (new in NEW). A provider that failed in a bundle shows as its error.

Per-file records (``per_file``, `wfgy_rules.diff.records`) are not taken apart: a fingerprint
beside them that drifted names what changed in them (``tokenizer_config.json: add_eos_token
false → true``), as a failing rule does; records with no fingerprint beside them
(``runtime.model_dir.config.per_file``) are one row, with the changes as its note.
"""

from __future__ import annotations

import re
from typing import Any

from wfgy_rules.diff import Diff, Row, records
from wfgy_rules.errors import EvaluationError
from wfgy_rules.jsonvalues import canonical
from wfgy_rules.model import Bundle
from wfgy_rules.policy import versions

_IDENTITY = ("name", "path", "uuid", "index", "id", "declared")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VERSIONISH = re.compile(r"^v?\d+(\.\d+)+([.+-][0-9A-Za-z.+-]*)?$")
_PRESENT = "present"


def bundles_diff(old: Bundle, new: Bundle, old_name: str = "OLD", new_name: str = "NEW") -> Diff:
    rows: list[Row] = []
    for provider in sorted(set(old.facts) | set(new.facts) | set(old.errors) | set(new.errors)):
        left = flatten(old.facts[provider], provider) if provider in old.facts else None
        right = flatten(new.facts[provider], provider) if provider in new.facts else None
        if provider in old.errors or provider in new.errors or left is None or right is None:
            rows.append(_provider_row(provider, old, new))
            continue
        for field in sorted(set(left) | set(right)):
            rows.extend(_field_rows(provider, field, left, right))
    return Diff("bundles", tuple(rows), "old", "new", old_name, new_name)


def _field_rows(provider: str, field: str, left: dict[str, Any], right: dict[str, Any]) -> list[Row]:
    """The row of one field; per-file records go to the fingerprint beside them when there is one."""
    old, new = left.get(field, _ABSENT), right.get(field, _ABSENT)
    parent, _, name = field.rpartition(".")
    if name == records.RECORDS_KEY:
        if f"{parent}.sha256" in left or f"{parent}.sha256" in right:
            return []
        row = _row(provider, field, old, new)
        note = records.changes_note(old, new) if row.mark == "drifted" else row.note
        return [Row(provider, field, records.names(row.left), records.names(row.right), row.mark, note=note or row.note)]
    row = _row(provider, field, old, new)
    if name == "sha256" and row.mark == "drifted":
        note = records.changes_note(left.get(f"{parent}.{records.RECORDS_KEY}"), right.get(f"{parent}.{records.RECORDS_KEY}"))
        row = Row(provider, field, row.left, row.right, row.mark, row.level, note or row.note)
    return [row]


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT = _Absent()


def _row(provider: str, field: str, left: Any, right: Any) -> Row:
    if left is _ABSENT:
        return Row(provider, field, None, right, "extra", note="new")
    if right is _ABSENT:
        return Row(provider, field, left, None, "missing", note="gone")
    if type(left) is type(right) and left == right:
        return Row(provider, field, left, right, "equal")
    level = _level(left, right)
    return Row(provider, field, left, right, "drifted", level, f"{level} drift" if level else "changed")


def _level(left: Any, right: Any) -> str | None:
    if not (isinstance(left, str) and isinstance(right, str) and _VERSIONISH.match(left) and _VERSIONISH.match(right)):
        return None
    try:
        level = versions.drift(left, right)
    except EvaluationError:
        return None
    return None if level == "none" else level


def _provider_row(provider: str, old: Bundle, new: Bundle) -> Row:
    def state(bundle: Bundle) -> str | None:
        if provider in bundle.errors:
            return f"error: {bundle.errors[provider]}"
        return "gathered" if provider in bundle.facts else None

    left, right = state(old), state(new)
    if left is None:
        return Row(provider, provider, None, right, "extra", note="provider new in NEW")
    if right is None:
        return Row(provider, provider, left, None, "missing", note="provider not in NEW")
    return Row(provider, provider, left, right, "equal" if left == right else "drifted", note="" if left == right else "provider state changed")


def flatten(value: Any, prefix: str) -> dict[str, Any]:
    """``{field path: scalar}`` for one provider's facts (see the module docstring)."""
    out: dict[str, Any] = {}
    _flatten(value, prefix, out)
    return out


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if path.endswith("." + records.RECORDS_KEY):
        out[path] = value  # compared whole (see the module docstring)
    elif isinstance(value, dict):
        if not value:
            out[path] = {}
        for key in value:
            _flatten(value[key], f"{path}.{key}" if _IDENT.match(key) else f"{path}.{_quoted(key)}", out)
    elif isinstance(value, list):
        if not value:
            out[path] = []
        elif all(not isinstance(v, (dict, list)) for v in value):
            for member in value:
                out[f"{path}[{_member(member)}]"] = _PRESENT
        elif (identity := _identity(value)) is not None:
            for element in value:
                _flatten(element, f"{path}[{identity}={_member(element[identity])}]", out)
        else:  # no key names the elements: each whole element is a member, like a plain value
            for member in value:
                out[f"{path}[{canonical(member)}]"] = _PRESENT
    else:
        out[path] = value


def _identity(items: list) -> str | None:
    """The key that names each element of a list of objects (unique and scalar), if any."""
    if not all(isinstance(v, dict) for v in items):
        return None
    for key in _IDENTITY:
        values = [v.get(key) for v in items]
        if all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in values) and len(set(values)) == len(values):
            return key
    return None


def _member(value: Any) -> str:
    return value if isinstance(value, str) else repr(value) if not isinstance(value, (int, float)) else str(value)


def _quoted(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
