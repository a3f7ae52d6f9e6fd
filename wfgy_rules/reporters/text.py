"""``--format text``: the terminal view (SPEC §7), at three verbosities.

The default shows what needs a person: each result that failed, errored, warned or was
waived, then one line per reason rules were skipped for, then the counts::

    ✖ checkpoint ↔ tokenizer .. FAIL      semvers.tokenizer-sha
      • model acme/bot tokenizer-sha = 34ae92b5ccea; runtime tokenizer-sha = a9be45b6f511: tokenizer_config.json: add_eos_token false → true
        runtime.model_dir.tokenizer.sha256 = "a9be45b6f511"
        hint: Rebuild the image with the checkpoint's tokenizer, or pass --force.
    - 9 rules skipped: kubernetes not configured (k8s.*)
    21 passed, 1 failed, 9 skipped (1 blocking)
    → Aborting deploy (use --force to override)

Evidence is flat: the value of each field the failing check read, one line each
(``secrets.missing = ["HF_TOKEN"]``); a skip's reason is the first condition of its ``when``
that did not hold (`wfgy_rules.policy.preconditions`). ``--verbose`` lists every rule, passes
and skips included, with the full evidence tree (`wfgy_rules.reporters.evidence`);
``--quiet`` prints only what fails the run (✖) and the verdict.

Each result line ends with the rule's id: what ``--only``/``--skip``, ``waivers:``, ``rules:``
and ``explain`` take. The symbol and colour follow the result's level
(`wfgy_rules.reporters.levels`): ``✖`` red fails the run, ``⚠`` yellow is reported but lets
it through (WARN, FALLBACK, a failure below ``--fail-on``, WAIVED), ``ℹ`` an ``info`` rule.
Colour only when asked (`wfgy_rules.reporters.emit.use_color`). Where the output cannot
carry these symbols (an ASCII or cp1252 stream) they become ``+ x ! i * ->`` (`ASCII`).
Hashes show their first 12 digits (`wfgy_rules.reporters.short_hashes`); the JSON, SARIF and
JUnit reports keep them whole.

Every line passes through one function, `_output`, which escapes control characters
(`wfgy_rules.reporters.escaping.text`): a prompt file named ``a\\n::error::x`` shows as
``a\\n::error::x`` on one line, so nothing from the repository starts a workflow command in a
CI log or sends an escape sequence to the terminal.
"""

from __future__ import annotations

from wfgy_rules.errors import UsageError
from wfgy_rules.model import Result, Status
from wfgy_rules.policy.preconditions import combined
from wfgy_rules.reporters import Report, counts_line
from wfgy_rules.reporters.escaping import text as escape
from wfgy_rules.reporters.evidence import compact_lines, evidence_lines
from wfgy_rules.reporters.levels import Level, level
from wfgy_rules.reporters.short_hashes import shorten

_GREEN, _RED, _YELLOW, _BLUE, _DIM, _RESET = "\033[32m", "\033[31m", "\033[33m", "\033[34m", "\033[2m", "\033[0m"
_MIN_WIDTH, _MAX_WIDTH = 24, 48
_WORD_WIDTH = len("FALLBACK")
_LISTED_IDS = 3
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


VERBOSITIES = ("quiet", "default", "verbose")


def verbosity(verbose: bool, quiet: bool) -> str:
    """The verbosity ``--verbose`` and ``--quiet`` ask for (`VERBOSITIES`); both is a usage error."""
    if verbose and quiet:
        raise UsageError("--verbose and --quiet ask for opposite things: give one of them")
    return "verbose" if verbose else "quiet" if quiet else "default"


def render(report: Report, color: bool = False) -> str:
    results = report.outcome.results
    if report.verbosity == "verbose":
        shown = list(results)
    elif report.verbosity == "quiet":
        shown = [r for r in results if level(r) is Level.error]
    else:
        shown = [r for r in results if r.status not in (Status.pass_, Status.skip)]
    width = min(_MAX_WIDTH, max([_MIN_WIDTH, *(len(escape(r.title)) + 3 for r in shown)]))
    lines: list[_Line] = []
    target = None
    for result in shown:
        if result.target != target:
            target = result.target
            lines.append([(f"== {target} ==", _DIM)])
        lines.extend(_result_lines(result, width, report.verbosity))
    if report.verbosity == "default":
        lines.extend(_skip_groups(results))
    lines.extend(_footer(report))
    return "".join(_output(line, color) + "\n" for line in lines)


def _result_lines(result: Result, width: int, verbosity: str) -> list[_Line]:
    symbol, word, colour = _mark(result)
    label = f"{escape(result.title)} ".ljust(width, ".")
    pad = " " * (_WORD_WIDTH - len(word))
    lines: list[_Line] = [[(symbol, colour), f" {label} ", (word, colour), f"{pad}  ", (result.rule_id, _DIM)]]
    if result.status in (Status.pass_, Status.skip):
        return lines
    where = f"{result.location}: " if result.location else ""
    lines.append([f"  • {where}{result.message or result.title}"])
    if verbosity == "verbose":
        lines.extend([line] for line in evidence_lines(result.evidence))
    elif verbosity == "default":
        lines.extend([line] for line in compact_lines(result.evidence))
    if result.waiver:
        lines.append([f"    waived: {result.waiver.get('reason', '')} (until {result.waiver.get('expires', '?')})"])
    elif result.hint:
        lines.append([f"    hint: {result.hint}"])
    return lines


def _skip_groups(results: tuple[Result, ...]) -> list[_Line]:
    """``- 9 rules skipped: kubernetes not configured (k8s.*)``: one line per reason, most first."""
    groups: dict[str, list[str]] = {}
    for result in results:
        if result.status is Status.skip:
            groups.setdefault(result.reason or result.message or "skipped", []).append(result.rule_id)
    fleet = any(r.target is not None for r in results)
    selected = [r.rule_id for r in results]
    lines: list[_Line] = []
    for reason, ids in sorted(combined(groups).items(), key=lambda group: (-len(group[1]), group[0])):
        noun = ("result" if fleet else "rule") + ("" if len(ids) == 1 else "s")
        lines.append([(f"- {len(ids)} {noun} skipped: {reason} ({_which(ids, selected)})", _DIM)])
    return lines


def _which(ids: list[str], selected: list[str]) -> str:
    """The rules of a group: ``k8s.*`` when they are every rule of the run named so, else the ids."""
    unique = list(dict.fromkeys(ids))
    families = {rule_id.split(".")[0] for rule_id in unique}
    if len(unique) > 1 and len(families) == 1:
        family = families.pop()
        if {i for i in selected if i.split(".")[0] == family} == set(unique):
            return f"{family}.*"
    if len(unique) <= _LISTED_IDS:
        return ", ".join(unique)
    return ", ".join(unique[:_LISTED_IDS - 1]) + f" and {len(unique) - _LISTED_IDS + 1} more"


# A line: its parts, each plain text or (text, colour).
_Line = list[str | tuple[str, str]]


def _output(line: _Line, color: bool) -> str:
    """The one point of output: each part with its hashes shortened, escaped
    (`wfgy_rules.reporters.escaping.text`: no control character, so nothing from a fact starts
    a line or reaches the terminal raw), then coloured when asked."""
    out = []
    for part in line:
        text, code = (part, None) if isinstance(part, str) else part
        text = escape(shorten(text))
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
