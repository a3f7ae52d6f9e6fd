"""One verdict, one level: every format shows a result at the level `levels.TABLE` gives it,
whatever its status, action, severity and ``--fail-on``."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from wfgy_rules.model import Result, Severity, Status
from wfgy_rules.reporters import Report, render
from wfgy_rules.reporters.levels import Level, level
from wfgy_rules.run.outcome import decide

# status, action, severity, fail_on → level
CASES = [
    (Status.fail, "abort", Severity.high, Severity.low, Level.error),
    (Status.fail, "block", Severity.low, Severity.low, Level.error),
    (Status.error, "abort", Severity.medium, Severity.low, Level.error),  # could not be evaluated: fails closed
    (Status.fail, "abort", Severity.medium, Severity.high, Level.warning),  # below --fail-on
    (Status.fail, "fallback", Severity.critical, Severity.low, Level.warning),  # a fallback never fails the run
    (Status.fail, "warn", Severity.high, Severity.low, Level.warning),
    (Status.error, "fallback", Severity.high, Severity.low, Level.warning),
    (Status.fail, "abort", Severity.info, Severity.info, Level.note),  # info never fails
    (Status.fail, "warn", Severity.info, Severity.low, Level.note),
    (Status.waived, "abort", Severity.critical, Severity.low, Level.note),
    (Status.pass_, "abort", Severity.critical, Severity.low, Level.none),
    (Status.skip, "fallback", Severity.high, Severity.low, Level.none),
]
# What each format calls a level (None: the format shows no such thing).
SARIF = {Level.error: "error", Level.warning: "warning", Level.note: "note", Level.none: None}
GITHUB = {Level.error: "::error", Level.warning: "::warning", Level.note: "::notice", Level.none: None}
TEXT = {Level.error: "✖", Level.warning: "⚠", Level.note: "ℹ", Level.none: None}
MARKDOWN = {Level.error: "❌", Level.warning: "⚠️", Level.note: "ℹ️", Level.none: None}


def _report(status: Status, action: str, severity: Severity, fail_on: Severity) -> tuple[Report, Result]:
    waiver = {"rule": "team.x", "reason": "r", "expires": "2099-01-01"} if status is Status.waived else None
    result = Result("team.x", "team", "x", severity, status, action, message="m", waiver=waiver)
    outcome = decide([result], fail_on, force=False)
    return Report(outcome, (), "sha256:p", "sha256:f", verbosity="verbose"), outcome.results[0]


@pytest.mark.parametrize("status,action,severity,fail_on,expected", CASES, ids=lambda v: getattr(v, "name", v))
def test_every_format_shows_the_same_level(status, action, severity, fail_on, expected):
    report, result = _report(status, action, severity, fail_on)
    assert level(result) is expected
    assert result.blocking is (expected is Level.error)  # the level agrees with the verdict

    sarif_results = json.loads(render(report, "sarif"))["runs"][0]["results"]
    assert [r["level"] for r in sarif_results] == ([SARIF[expected]] if SARIF[expected] else [])

    commands = [line.split(" ", 1)[0] for line in render(report, "github").splitlines()[:-1]]
    assert commands == ([GITHUB[expected]] if status.failing else [])  # waived: no annotation

    case = ET.fromstring(render(report, "junit")).find(".//testcase")
    children = [child.tag for child in case]
    if status is Status.waived or status is Status.skip:
        assert children == ["skipped"]
    else:
        assert children == ({Status.fail: ["failure"], Status.error: ["error"]}[status] if expected is Level.error else [])

    text_line = render(report, "text").splitlines()[0]
    assert text_line.startswith(TEXT[expected] if status.failing else {Status.waived: "⚠", Status.pass_: "✔", Status.skip: "-"}[status])

    markdown = render(report, "markdown")
    if status.failing:
        assert f"| {MARKDOWN[expected]} | `team.x`" in markdown


def test_a_rules_default_level_is_what_its_failure_would_get():
    from wfgy_rules.reporters.levels import default_level

    assert default_level(None, Severity.high, Severity.low, "fallback") is Level.warning
    assert default_level(None, Severity.high, Severity.low, "abort") is Level.error
    assert default_level(None, Severity.medium, Severity.high, "abort") is Level.warning
    assert default_level(None, Severity.info, Severity.info, "abort") is Level.note
