"""``--format text``: the terminal view (SPEC §7).

::

    ✔ env vars ............... OK        boot.env-required
    ✖ checkpoint ↔ tokenizer .. FAIL      semvers.tokenizer-sha
      • model facebook/llama-2-7b-chat-hf tokenizer-sha = ad4c1b9; runtime tokenizer-sha = 9e7f02d
        hint: Rebuild the image with the checkpoint's tokenizer, or pass --force.
    → Aborting deploy (use --force to override)

Each line ends with the rule's id: what ``--only``/``--skip``, ``waivers:``, ``rules:`` and
``explain`` take. The symbol and colour follow the result's level
(`wfgy_rules.reporters.levels`): ``✖`` red fails the run, ``⚠`` yellow is reported but lets
it through (WARN, FALLBACK, a failure below ``--fail-on``, WAIVED), ``ℹ`` an ``info`` rule.
Colour only when asked (`wfgy_rules.reporters.emit.use_color`). Where the output cannot
carry these symbols (an ASCII or cp1252 stream) they become ``+ x ! i * ->`` (`ASCII`).

Every line passes through one function, `_output`, which escapes control characters
(`wfgy_rules.reporters.escaping.text`): a prompt file named ``a\\n::error::x`` shows as
``a\\n::error::x`` on one line, so nothing from the repository starts a workflow command in a
CI log or sends an escape sequence to the terminal.
"""

from __future__ import annotations

from wfgy_rules.model import Result, Status
from wfgy_rules.reporters import Report, counts_line
from wfgy_rules.reporters.escaping import text as escape
from wfgy_rules.reporters.evidence import evidence_lines
from wfgy_rules.reporters.levels import Level, level

_GREEN, _RED, _YELLOW, _BLUE, _DIM, _RESET = "\033[32m", "\033[31m", "\033[33m", "\033[34m", "\033[2m", "\033[0m"
_MIN_WIDTH, _MAX_WIDTH = 24, 48
_WORD_WIDTH = len("FALLBACK")
_SYMBOLS = {Level.error: ("✖", _RED), Level.warning: ("⚠", _YELLOW), Level.note: ("ℹ", _BLUE)}
ASCII = str.maketrans({"✔": "+", "✖": "x", "⚠": "!", "ℹ": "i", "•": "*", "→": "->", "↔": "<->", "…": "...", "≥": ">=", "≤": "<="})


def _mark(result: Result) -> tuple[str, str, str]:
    """(symbol, word, colour) for a result."""
    if result.status is Status.pass_:
        return "✔", "OK", _GREEN
    if result.status is Status.skip:
        return "-", "SKIP", _DIM
    symbol, colour = _SYMBOLS[level(result)]
    if result.status is Status.waived:
        return "⚠", "WAIVED", _YELLOW
    if result.status is Status.error:
        return symbol, "ERROR", colour
    if result.blocking:
        return symbol, "FAIL", colour
    return symbol, {"fallback": "FALLBACK", "warn": "WARN"}.get(result.action, "FAIL"), colour


def render(report: Report, color: bool = False) -> str:
    results = report.outcome.results
    width = min(_MAX_WIDTH, max([_MIN_WIDTH, *(len(escape(r.title)) + 3 for r in results)]))
    lines: list[_Line] = []
    target = None
    for result in results:
        if result.target != target:
            target = result.target
            lines.append([(f"== {target} ==", _DIM)])
        symbol, word, colour = _mark(result)
        label = f"{escape(result.title)} ".ljust(width, ".")
        pad = " " * (_WORD_WIDTH - len(word))
        lines.append([(symbol, colour), f" {label} ", (word, colour), f"{pad}  ", (result.rule_id, _DIM)])
        if result.status in (Status.pass_, Status.skip):
            continue
        where = f"{result.location}: " if result.location else ""
        lines.append([f"  • {where}{result.message or result.title}"])
        lines.extend([line] for line in evidence_lines(result.evidence))
        if result.waiver:
            lines.append([f"    waived: {result.waiver.get('reason', '')} (until {result.waiver.get('expires', '?')})"])
        elif result.hint:
            lines.append([f"    hint: {result.hint}"])
    lines.extend(_footer(report))
    return "".join(_output(line, color) + "\n" for line in lines)


# A line: its parts, each plain text or (text, colour).
_Line = list[str | tuple[str, str]]


def _output(line: _Line, color: bool) -> str:
    """The one point of output: each part escaped (`wfgy_rules.reporters.escaping.text`: no
    control character, so nothing from a fact starts a line or reaches the terminal raw), then
    coloured when asked."""
    out = []
    for part in line:
        text, code = (part, None) if isinstance(part, str) else part
        text = escape(text)
        out.append(f"{code}{text}{_RESET}" if color and code else text)
    return "".join(out)


def _footer(report: Report) -> list[_Line]:
    outcome = report.outcome
    counts = outcome.summary
    summary = counts_line(outcome)
    blocking = sum(1 for r in outcome.results if r.blocking)
    lines: list[_Line] = [[(f"{summary} ({blocking} blocking)" if counts["fail"] + counts["error"] else summary, _DIM)]]
    for name, value in sorted(report.fallback_env.items()):
        lines.append([(f"→ Fallback: {name}={value!r} set for the started command", _YELLOW)])
    if outcome.forced:
        lines.append([(f"→ Forced: {len(outcome.overridden)} blocking result(s) overridden by --force", _YELLOW)])
    elif outcome.failed:
        lines.append([("→ Aborting deploy (use --force to override)", _RED)])
    return lines
