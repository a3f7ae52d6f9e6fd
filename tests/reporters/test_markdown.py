"""``--format markdown``: the verdict, then what needs attention first, passes folded away,
cells that cannot break the table."""

from __future__ import annotations

from tests.reporters.conftest import report, rule_line


def _rows(text: str) -> list[list[str]]:
    """Table rows (not header or rule lines) as their cells."""
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| |")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_failures_first_then_non_blocking_then_waived_then_folded_passes(project):
    text = report(project, "markdown")
    head, details = text.split("<details>")
    assert head.startswith("## ❌ wfgy-rules: failed\n\n1 passed, 4 failed, 1 errors, 1 skipped, 1 waived · fail-on `low`\n\n| | Rule | Severity | Result | Where |\n|---|---|---|---|---|\n")
    assert [(row[0], row[1].split()[0]) for row in _rows(head)] == [
        ("❌", "`team.max-len`"), ("❌", "`team.items`"), ("❌", "`ops.port`"),  # blocking, in report order
        ("⚠️", "`team.soft`"), ("ℹ️", "`team.note`"),  # non-blocking: a warning, an info note
        ("💤", "`team.items`"),  # waived
    ]
    assert details.startswith("<summary>1 passed, 1 skipped</summary>\n\n| | Rule |")
    assert [(row[0], row[1].split()[0]) for row in _rows(details)] == [("✅", "`team.replicas`"), ("⏭️", "`ops.gpu`")]
    assert details.endswith("\n\n</details>\n")


def test_cells_hold_the_detail_escaped(project):
    rows = {(row[0], row[1]): row for row in _rows(report(project, "markdown"))}
    first = rows[("❌", "`team.max-len` max length fits context")]
    assert first[2:] == ["high", "**FAIL** max\\_model\\_len 8192 \\> context 4096<br>hint: Lower max\\_model\\_len.", f"`team.yaml:{rule_line('team.max-len')}:5`"]
    item = rows[("❌", "`team.items` every item ok")]
    assert item[3] == "**FAIL** ./prompts/new.txt is not ok: 100%, a\\|b: c<br>next \\<b\\> \\& more<br>hint: Fix the item."
    assert item[4] == "`prompts/new.txt:7:1`"
    waived = rows[("💤", "`team.items` every item ok")]
    assert waived[3] == "**WAIVED** prompts/legacy/a.txt is not ok: old<br>waived: legacy prompts, rewrite in Q1 (until 2099-01-31)"
    assert rows[("⚠️", "`team.soft` images pinned")][3] == "**WARN** images pinned<br>hint: Pin the image by digest."


def test_passed_and_forced_verdicts(project):
    forced = report(project, "markdown", "--force")
    assert forced.startswith("## ⚠️ wfgy-rules: failed, forced\n\n1 passed, 4 failed, 1 errors, 1 skipped, 1 waived · fail-on `low` · 3 blocking result(s) overridden by `--force`\n")
    (project / "serving.yaml").write_text("max_model_len: 1\nreplicas: 9\npinned: true\nport: 8080\ngpu: false\n")
    (project / "data.yaml").write_text("items: []\n")
    passed = report(project, "markdown")
    assert passed.startswith("## ✅ wfgy-rules: passed\n\n6 passed, 0 failed, 1 skipped · fail-on `low`\n\n<details><summary>6 passed, 1 skipped</summary>\n")
