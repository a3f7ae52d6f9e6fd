"""``--format github``: GitHub Actions workflow commands, shown as annotations on the run
and on the pull request's changed lines.

::

    ::error file=team.yaml,line=8,col=5,title=team.max-len%3A max length fits context::max_model_len 8192 > context 4096%0Ahint: Lower max_model_len.
    ::warning file=prompts/a.txt,line=3,col=5,title=team.soft%3A prefer pinned images::image is not pinned
    wfgy-rules: 4 passed, 2 failed

One command per ``fail`` or ``error`` result that is not waived, named after the result's
level (`wfgy_rules.reporters.levels`, the table every format shares): ``error`` when it
fails the run, ``warning`` when it does not (warnings, fallbacks, results below
``--fail-on``), ``notice`` for ``info`` rules. The file and line are the ones SARIF shows
(`wfgy_rules.reporters.locations`): the ``for_each`` element's, else the key a rule over a
``file`` fact judged in that file (``deploy/serving.yaml`` at ``max_model_len:``), else the
rule's in a team policy, else what the rule judged (the model card's key, the ``wfgy.yaml``
line configuring its provider), relative to the repository root (``--root``), as the runner expects whatever
directory the step ran in. Text is escaped as the runner expects
(`wfgy_rules.reporters.escaping`: ``%``, CR, LF, in properties ``:`` and ``,``) and every other
control character is shown as ``\\x1b``, so a message can neither break the command, start
another one, nor reach the log viewer as an escape sequence.

With ``GITHUB_STEP_SUMMARY`` set (as in every Actions job), the markdown report is also
appended to the job summary (`after_emit`, called by `wfgy_rules.reporters.emit`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from wfgy_rules.model import Result, Rule
from wfgy_rules.reporters import Report, counts_line, escaping
from wfgy_rules.reporters import render as render_format
from wfgy_rules.reporters.levels import Level, level
from wfgy_rules.reporters.locations import Locator

COMMANDS = {Level.error: "error", Level.warning: "warning", Level.note: "notice"}


def render(report: Report, color: bool = False) -> str:
    rules = {rule.id: rule for rule in report.rules}
    lines = [_command(r, rules.get(r.rule_id), report.locator) for r in report.outcome.results if r.status.failing]
    lines.append(f"wfgy-rules: {counts_line(report.outcome)}" + (" (forced)" if report.outcome.forced else ""))
    return "\n".join(lines) + "\n"


def step_summary(report: Report) -> str:
    """The text appended to the job summary: the markdown report."""
    return render_format(report, "markdown")


def append_step_summary(report: Report, environ: Mapping[str, str] = os.environ) -> bool:
    """Append `step_summary` to the file named by ``GITHUB_STEP_SUMMARY``; False when unset or
    when it cannot be written (a warning on stderr; the annotations are already printed).

    The runner creates that file per step and renders whatever markdown the step appended.
    """
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    try:
        with Path(path).open("a", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(step_summary(report))
    except OSError as exc:  # a side output: its failure never costs the annotations or the verdict
        print(f"wfgy-rules: warning: cannot append the job summary to {path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


def command_name(result: Result) -> str:
    """``error`` for a result that fails the run, ``notice`` for ``info``, else ``warning``."""
    return COMMANDS[level(result)]


def _command(result: Result, rule: Rule | None, locator: Locator) -> str:
    where = locator.locate(result, rule)
    properties = [("file", where.path)]
    properties += [(key, str(value)) for key, value in (("line", where.line), ("col", where.column)) if value is not None]
    properties.append(("title", f"{result.rule_id}: {result.title}"))
    text = result.message or result.title
    if result.target:
        text = f"{result.target}: {text}"
    if result.hint:
        text += f"\nhint: {result.hint}"
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{command_name(result)} {props}::{escape_data(text)}"


escape_data = escaping.github_data  # a command's message
escape_property = escaping.github_property  # a command's property value


def after_emit(report: Report) -> None:
    """Called once per run that asked for this format: the job summary, when in Actions."""
    append_step_summary(report)
