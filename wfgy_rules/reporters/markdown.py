r"""``--format markdown``: a compact table for a pull-request comment or a job summary.

::

    ## ❌ wfgy-rules: failed

    1 passed, 2 failed, 1 waived · fail-on `low`

    | | Rule | Severity | Result | Where |
    |---|---|---|---|---|
    | ❌ | `team.max-len` max length fits context | high | **FAIL** max\_model\_len 8192 \> context 4096<br>hint: Lower max\_model\_len. | `team.yaml:5:5` |
    | ⚠️ | `team.soft` images pinned | low | **WARN** images pinned<br>hint: Pin the image by digest. | `team.yaml:30:5` |
    | 💤 | `team.items` every item ok | high | **WAIVED** prompts/legacy/a.txt is not ok<br>waived: rewrite in Q1 (until 2027-01-31) | `prompts/legacy/a.txt:3:5` |

    <details><summary>1 passed</summary>

    | | Rule | Severity | Result | Where |
    |---|---|---|---|---|
    | ✅ | `team.replicas` at least two replicas | medium | **PASS** | `team.yaml:13:5` |

    </details>

Rows that need attention come first: results that fail the run, then the ones that do not
(warnings, fallbacks, results below ``--fail-on``), then waived ones; each group keeps the
report's order. Passed and skipped results fold into a ``<details>`` block. Every cell's text
goes through `wfgy_rules.reporters.escaping` (``markdown``, ``markdown_code``): markup
characters backslash-escaped, line breaks as ``<br>``, control characters shown as ``\x1b``,
``@`` and URLs kept from becoming mentions and links, so a message can neither break the
table, inject markup, nor notify anyone. The verdict reads ``passed``, ``failed``, or
``failed, forced`` when ``--force`` overrode it.
"""

from __future__ import annotations

from wfgy_rules.model import Result, Rule, Status
from wfgy_rules.reporters import Report, counts_line, locate
from wfgy_rules.reporters.escaping import markdown as _cell
from wfgy_rules.reporters.escaping import markdown_code as _code
from wfgy_rules.reporters.levels import Level, level

_HEADER = ["| | Rule | Severity | Result | Where |", "|---|---|---|---|---|"]
_ICONS = {Level.error: "❌", Level.warning: "⚠️", Level.note: "ℹ️"}
# Where the output cannot carry emoji: GitHub's shortcodes, which render the same.
ASCII = str.maketrans({"❌": ":x:", "✅": ":white_check_mark:", "⚠": ":warning:", "ℹ": ":information_source:", "💤": ":zzz:",
                       "⏭": ":next_track_button:", "\ufe0f": "", "·": "-", "↔": "<->", "→": "->", "…": "..."})


def render(report: Report, color: bool = False) -> str:
    outcome = report.outcome
    rules = {rule.id: rule for rule in report.rules}
    attention = sorted((r for r in outcome.results if r.status not in (Status.pass_, Status.skip)), key=_rank)
    quiet = [r for r in outcome.results if r.status in (Status.pass_, Status.skip)]
    lines = [f"## {_verdict(report)}", "", _summary(report)]
    if attention:
        lines += ["", *_HEADER, *(_row(r, rules.get(r.rule_id)) for r in attention)]
    if quiet:
        counts = outcome.summary
        label = ", ".join(f"{counts[k]} {word}" for k, word in (("pass", "passed"), ("skip", "skipped")) if counts[k])
        lines += ["", f"<details><summary>{label}</summary>", "", *_HEADER, *(_row(r, rules.get(r.rule_id)) for r in quiet), "", "</details>"]
    return "\n".join(lines) + "\n"


def _verdict(report: Report) -> str:
    outcome = report.outcome
    if outcome.forced:
        return "⚠️ wfgy-rules: failed, forced"
    return "❌ wfgy-rules: failed" if outcome.failed else "✅ wfgy-rules: passed"


def _summary(report: Report) -> str:
    outcome = report.outcome
    parts = [counts_line(outcome), f"fail-on `{outcome.fail_on.name}`"]
    if outcome.forced:
        parts.append(f"{len(outcome.overridden)} blocking result(s) overridden by `--force`")
    return " · ".join(parts)


def _rank(result: Result) -> int:
    """Blocking failures, then non-blocking ones, then waived (a stable sort keeps report order)."""
    if result.status is Status.waived:
        return 2
    return 0 if result.blocking else 1


def _row(result: Result, rule: Rule | None) -> str:
    icon, word = _mark(result)
    notes = [result.message] if result.message else []
    if result.status is Status.waived and result.waiver:
        notes.append(f"waived: {result.waiver.get('reason', '')} (until {result.waiver.get('expires', '?')})")
    elif result.status.failing and result.hint:
        notes.append(f"hint: {result.hint}")
    where = locate(result, rule)
    place = _code(str(where)) if where else ""
    if result.target:
        place = f"{_cell(result.target)} {place}".strip()
    cells = [icon, f"{_code(result.rule_id)} {_cell(result.title)}", result.severity.name, " ".join([f"**{word}**", "<br>".join(_cell(n) for n in notes)]).strip(), place]
    return "| " + " | ".join(cells) + " |"


def _mark(result: Result) -> tuple[str, str]:
    if result.status is Status.pass_:
        return "✅", "PASS"
    if result.status is Status.skip:
        return "⏭️", "SKIP"
    if result.status is Status.waived:
        return "💤", "WAIVED"
    word = "ERROR" if result.status is Status.error else {"fallback": "FALLBACK", "warn": "WARN"}.get(result.action, "FAIL")
    return _ICONS[level(result)], word
