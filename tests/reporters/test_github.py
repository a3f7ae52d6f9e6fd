"""``--format github``: one workflow command per unwaived failure, the right command for
its weight, escaped as the runner expects; the markdown job summary."""

from __future__ import annotations

import pytest

from tests.reporters.conftest import report, serving_line
from wfgy_rules.model import Result, Severity, Status
from wfgy_rules.reporters import Report
from wfgy_rules.reporters.github import (
    append_step_summary,
    escape_data,
    escape_property,
    step_summary,
)
from wfgy_rules.run.outcome import decide


def test_one_command_per_unwaived_failure(project):
    lines = report(project, "github").splitlines()
    assert lines == [
        f"::error file=serving.yaml,line={serving_line('max_model_len')},col=1,title=team.max-len%3A max length fits context::max_model_len 8192 > context 4096%0Ahint: Lower max_model_len.",
        "::error file=prompts/new.txt,line=7,col=1,title=team.items%3A every item ok::./prompts/new.txt is not ok: 100%25, a|b: c%0Anext <b> & more%0Ahint: Fix the item.",
        f"::warning file=serving.yaml,line={serving_line('pinned')},col=1,title=team.soft%3A images pinned::images pinned%0Ahint: Pin the image by digest.",
        f"::notice file=serving.yaml,line={serving_line('replicas')},col=1,title=team.note%3A many replicas::many replicas",
        f"::error file=serving.yaml,line={serving_line('port')},col=1,title=ops.port%3A port above 1000::file.serving.port > `1000`: TypeError: '>' not supported between instances of 'str' and 'int'",
        "wfgy-rules: 1 passed, 4 failed, 1 errors, 1 skipped, 1 waived",
    ]


def test_below_fail_on_is_a_warning_and_a_pass_prints_only_the_summary(project):
    lines = report(project, "github", "--fail-on", "critical").splitlines()
    assert [line.split(" ", 1)[0] for line in lines[:-1]] == ["::warning", "::error", "::warning", "::notice", "::warning"]
    (project / "serving.yaml").write_text("max_model_len: 1\nreplicas: 9\npinned: true\nport: 8080\ngpu: false\n")
    (project / "data.yaml").write_text("items: []\n")
    assert report(project, "github") == "wfgy-rules: 6 passed, 0 failed, 1 skipped\n"


@pytest.mark.parametrize("text,data,prop", [
    ("plain", "plain", "plain"),
    ("100% done", "100%25 done", "100%25 done"),
    ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
    ("key: a, b", "key: a, b", "key%3A a%2C b"),
    ("%0A literal", "%250A literal", "%250A literal"),  # an encoded-looking text stays text
    ("::error::injected", "::error::injected", "%3A%3Aerror%3A%3Ainjected"),
])
def test_escaping_follows_the_runner(text, data, prop):
    assert escape_data(text) == data
    assert escape_property(text) == prop


def _report() -> Report:
    result = Result("team.x", "team", "x | y", Severity.high, Status.fail, "abort", message="two\nlines")
    return Report(decide([result], Severity.low, force=False), (), "sha256:p", "sha256:f")


def test_step_summary_appends_the_markdown_report(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    assert append_step_summary(_report(), {"GITHUB_STEP_SUMMARY": str(summary)}) is True
    assert append_step_summary(_report(), {"GITHUB_STEP_SUMMARY": str(summary)}) is True
    text = summary.read_text()
    assert text == "earlier step\n" + step_summary(_report()) * 2
    assert "## ❌ wfgy-rules: failed" in text and "| ❌ | `team.x` x \\| y | high | **FAIL** two<br>lines |" in text
    assert append_step_summary(_report(), {}) is False
