"""``diff --format text|json|markdown``: one small function per format, in `FORMATS`.

Text is a table per section, the mark first so drift stands out, that fits `WIDTH` (100)
columns (`_Layout`): a field too long for its column gets a line of its own with the values
below it, and a note that does not fit after the values goes on a line below::

    model_card ↔ runtime
      ≠ drifted   tokenizer_sha ↔ runtime.model_dir.tokenizer.sha256   34ae92b5ccea  a9be45b6f511
                ↳ tokenizer_config.json: add_eos_token false → true
      = equal     chat_template_sha ↔ runtime.model_dir.tokenizer.chat_template.sha256
                ↳                                                      6b2545329425  6b2545329425

Hashes show their first 12 digits (`wfgy_rules.reporters.short_hashes`) and other long values
are shortened (the JSON keeps them whole); ``—`` is a side with no value.
What a bundle holds is escaped as the reports escape it (`wfgy_rules.reporters.escaping`):
in text no control character (a value cannot start a line or send a terminal escape), in
Markdown no markup, mention or autolink either.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wfgy_rules.diff import Diff, Row
from wfgy_rules.reporters import escaping
from wfgy_rules.reporters.short_hashes import shorten

SYMBOLS = {"equal": "=", "drifted": "≠", "missing": "-", "extra": "+", "unpaired": "·"}
WIDTH = 100
_MAX_CELL = 28
_INDENT, _GAP, _BELOW = "  ", "  ", "↳ "


def cell(value: Any, limit: int = _MAX_CELL) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(diff: Diff, show_all: bool) -> list[Row]:
    return [r for r in diff.rows if show_all or diff.mode != "bundles" or r.mark != "equal"]


def _titles(diff: Diff) -> tuple[str, str]:
    left = f"{diff.left_label} ({diff.left_name})" if diff.left_name else diff.left_label
    right = f"{diff.right_label} ({diff.right_name})" if diff.right_name else diff.right_label
    return left, right


def _summary_line(diff: Diff, show_all: bool) -> str:
    counts = diff.summary
    parts = [f"{counts[m]} {m}" for m in counts if counts[m] or m in ("drifted", "missing")]
    line = ", ".join(parts)
    if diff.mode == "bundles" and not show_all and counts["equal"]:
        line += " (equal fields hidden; --all shows them)"
    return line


def render_text(diff: Diff, show_all: bool = False) -> str:
    rows = _shown(diff, show_all)
    left, right = map(escaping.text, _titles(diff))
    lines = [f"{left} → {right}"]
    if not rows:
        lines.append("  no differences")
    sections: dict[str, list[list[str]]] = {}
    for row in rows:
        sections.setdefault(row.section, []).append(_cells(row))
    for section, cells in sections.items():  # each section aligned on its own
        lines.append(escaping.text(section))
        layout = _Layout.of(cells)
        for row_cells in cells:
            lines.extend(layout.lines(*row_cells))
    lines.append(_summary_line(diff, show_all))
    return "\n".join(lines) + "\n"


def _cells(row: Row) -> list[str]:
    """mark, field, left, right, note: escaped, hashes shortened (`wfgy_rules.reporters.short_hashes`)."""
    values = (row.field, cell(_short(row.left)), cell(_short(row.right)), shorten(row.note))
    return [f"{SYMBOLS[row.mark]} {row.mark}", *map(escaping.text, values)]


def _short(value: Any) -> Any:
    return shorten(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class _Layout:
    """Columns that fit `WIDTH`. A field too long for its column gets a line of its own (a field
    is never broken: it is a name to copy), with the values on the next line; a note that does
    not fit after the values goes below, split at its ``; `` when it needs more than one line.
    Every line below a row starts with ``↳``: each line begins with the report's own text, never
    with what a fact holds (`wfgy_rules.reporters.escaping`)."""

    mark: int
    field: int
    left: int

    @classmethod
    def of(cls, cells: list[list[str]]) -> _Layout:
        mark, left, right = (max([len(c[i]) for c in cells] or [0]) for i in (0, 2, 3))
        room = WIDTH - len(_INDENT) - mark - left - right - 3 * len(_GAP)
        return cls(mark, min(max([len(c[1]) for c in cells] or [0]), room), left)

    def lines(self, mark: str, field: str, left: str, right: str, note: str) -> list[str]:
        head = _INDENT + mark.ljust(self.mark) + _GAP
        below = " " * (len(head) - len(_BELOW)) + _BELOW
        values = (left.ljust(self.left) + _GAP + right).rstrip()
        if len(field) <= self.field:
            lines = [head + field.ljust(self.field) + _GAP + values]
        else:
            lines = [head + field, below + " " * self.field + _GAP + values]
        if note and len(lines[-1]) + len(_GAP) + len(note) <= WIDTH:
            lines[-1] += _GAP + note
        elif note:
            lines.extend(below + part for part in _parts(note, WIDTH - len(below)))
        return [line.rstrip() for line in lines]


def _parts(note: str, width: int) -> list[str]:
    """``note`` in lines of at most ``width``, broken only after its ``; `` (one part longer
    than ``width`` stays whole)."""
    parts: list[str] = []
    for piece in note.split("; "):
        if parts and len(parts[-1]) + 2 + len(piece) <= width:
            parts[-1] += "; " + piece
        else:
            parts.append(piece)
    return parts


def render_json(diff: Diff, show_all: bool = False) -> str:
    data = {
        "version": "1",
        "mode": diff.mode,
        diff.left_label: diff.left_name or None,
        diff.right_label: diff.right_name or None,
        "summary": diff.summary,
        "drifted": diff.drifted,
        "rows": [r.to_json(diff.left_label, diff.right_label) for r in _shown(diff, show_all)],
    }
    if diff.mode != "bundles":
        del data[diff.left_label], data[diff.right_label]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_markdown(diff: Diff, show_all: bool = False) -> str:
    left, right = map(escaping.markdown, _titles(diff))
    lines = [f"### wfgy-rules diff: {left} → {right}", ""]
    section = None
    for row in _shown(diff, show_all):
        if row.section != section:
            section = row.section
            lines += ["", f"**{escaping.markdown(section)}**", "", f"| | field | {left} | {right} | note |", "|---|---|---|---|---|"]
        lines.append(f"| {SYMBOLS[row.mark]} {row.mark} | {escaping.markdown_code(row.field)} | "
                     f"{escaping.markdown(cell(row.left))} | {escaping.markdown(cell(row.right))} | {escaping.markdown(row.note)} |")
    lines += ["", _summary_line(diff, show_all)]
    return "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1])) + "\n"


FORMATS: dict[str, Callable[[Diff, bool], str]] = {"text": render_text, "json": render_json, "markdown": render_markdown}
