"""``diff --format text|json|markdown``: one small function per format, in `FORMATS`.

Text is a table per section, the mark first so drift stands out::

    model_card ↔ runtime
      ≠ drifted   tokenizer_sha ↔ runtime.model_dir.tokenizer.sha256  ad4c1b9  d5b64bb613c8ae54…  another fingerprint
      = equal     vocab_size ↔ runtime.model_dir.config.vocab_size    128      128

Long values are shortened (the JSON keeps them whole); ``—`` is a side with no value.
What a bundle holds is escaped as the reports escape it (`wfgy_rules.reporters.escaping`):
in text no control character (a value cannot start a line or send a terminal escape), in
Markdown no markup, mention or autolink either.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from wfgy_rules.diff import Diff, Row
from wfgy_rules.reporters import escaping

SYMBOLS = {"equal": "=", "drifted": "≠", "missing": "-", "extra": "+", "unpaired": "·"}
_MAX_CELL = 28


def cell(value: Any, limit: int = _MAX_CELL) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(diff: Diff, show_all: bool) -> list[Row]:
    return [r for r in diff.rows if show_all or diff.mode != "bundles" or r.mark != "equal"]


def _note(row: Row) -> str:
    return row.note


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
    widths = [max([len(c) for c in column] or [0]) for column in zip(*[_cells(r) for r in rows])] if rows else []
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines.append(escaping.text(section))
        cells = _cells(row)
        text = "  " + "  ".join(c.ljust(w) for c, w in zip(cells[:-1], widths[:-1])) + ("  " + cells[-1] if cells[-1] else "")
        lines.append(text.rstrip())
    lines.append(_summary_line(diff, show_all))
    return "\n".join(lines) + "\n"


def _cells(row: Row) -> list[str]:
    return [f"{SYMBOLS[row.mark]} {row.mark}", *map(escaping.text, (row.field, cell(row.left), cell(row.right), _note(row)))]


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
