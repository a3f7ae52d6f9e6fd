"""What changed between two sets of per-file records: the lines a fingerprint mismatch shows.

``record_changes(locked, found)`` compares ``{name: record}`` as `wfgy-rules lock` writes them
to the card's ``files`` and the runtime facts show them (``per_file``; the record format is
`wfgy_rules.providers.model.file_records`), and says, per file, what a person acts on::

    tokenizer_config.json: add_eos_token false → true
    tokenizer_config.json: added_tokens_decoder changed
    chat_template: 1 line changed (line 3)
    tokenizer.json changed
    merges.txt removed
    tokenizer.model added

A key present on one side only reads ``absent``; of a file known only by its digest, only
that it changed. A record missing a part on one side (a card written by an older lock) is
compared on what both sides have. ``locked`` or ``found`` null (no records, a card locked
before per-file records existed) gives no line. At most `MAX_CHANGES` lines, then ``… and N
more``.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

MAX_CHANGES = 12
MAX_LINE_NUMBERS = 3
_VALUE_CHARS = 60


def record_changes(locked: Any, found: Any) -> list[str]:
    """One line per change between two ``{name: record}`` objects (see the module docstring)."""
    if not isinstance(locked, dict) or not isinstance(found, dict):
        return []
    lines: list[str] = []
    for name in sorted(set(locked) | set(found)):
        if name not in found:
            lines.append(f"{name} removed")
        elif name not in locked:
            lines.append(f"{name} added")
        elif not _same(locked[name], found[name]):
            lines.extend(_record_changes(name, locked[name], found[name]))
    if len(lines) > MAX_CHANGES:
        lines = [*lines[: MAX_CHANGES - 1], f"… and {len(lines) - MAX_CHANGES + 1} more"]
    return lines


def _record_changes(name: str, old: Any, new: Any) -> list[str]:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [f"{name} changed"]
    lines = []
    if _has_settings(old) and _has_settings(new):
        lines += _key_changes(name, old, new)
    if isinstance(old.get("lines"), str) and isinstance(new.get("lines"), str) and old["lines"] != new["lines"]:
        lines.append(f"{name}: {_line_changes(old['lines'].split(), new['lines'].split())}")
    if not lines and any(key in old and key in new and not _same(old[key], new[key]) for key in ("sha256", "values", "digests", "lines")):
        lines.append(f"{name} changed")
    return lines


def _has_settings(record: dict[str, Any]) -> bool:
    return "values" in record or "digests" in record


def _key_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``name: key old → new`` for each key whose value differs (``key changed`` when a side
    has only its digest)."""
    old_values, new_values = old.get("values") or {}, new.get("values") or {}
    old_digests, new_digests = old.get("digests") or {}, new.get("digests") or {}
    lines = []
    for key in sorted(set(old_values) | set(new_values) | set(old_digests) | set(new_digests)):
        before = old_values.get(key, old_digests.get(key, _ABSENT))
        after = new_values.get(key, new_digests.get(key, _ABSENT))
        if _same(before, after):
            continue
        if key in old_digests or key in new_digests:
            lines.append(f"{name}: {key} changed")
        else:
            lines.append(f"{name}: {key} {_shown(before)} → {_shown(after)}")
    return lines


def _line_changes(old: list[str], new: list[str]) -> str:
    """``1 line changed (line 3)``: lines that differ, numbered in the new text."""
    changed = 0
    where: list[int] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        changed += max(i2 - i1, j2 - j1)
        where.extend(range(j1 + 1, j2 + 1) if j2 > j1 else [j1 + 1])
    where = sorted(set(where))
    shown = ", ".join(map(str, where[:MAX_LINE_NUMBERS])) + (", …" if len(where) > MAX_LINE_NUMBERS else "")
    count = f"{changed} line{'s' if changed != 1 else ''} changed"
    return f"{count} (line{'s' if len(where) != 1 else ''} {shown})" if where else count


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: ``true`` is not ``1``, and neither is ``1.0``."""
    return a is b or json.dumps(a, sort_keys=True, default=repr) == json.dumps(b, sort_keys=True, default=repr)


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT = _Absent()


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "absent"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"
