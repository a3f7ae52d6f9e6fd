"""``--format text`` and what every format owes a terminal: rule ids on every line, colour
only when wanted (``--color``, ``NO_COLOR``, ``FORCE_COLOR``), and ASCII instead of a crash
where the output cannot carry the symbols."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import xml.etree.ElementTree as ET

import pytest

from tests.helpers import cli_command, read_pty, run_cli
from tests.reporters.conftest import report
from wfgy_rules.reporters import FORMATS
from wfgy_rules.reporters.emit import use_color


def test_every_line_names_its_rule(project):
    lines = [line for line in report(project, "text", "--verbose").splitlines() if line[:1] in "✔✖⚠ℹ-"]
    assert [line.split()[-1] for line in lines] == ["team.max-len", "team.replicas", "team.items", "team.items", "team.soft", "team.note", "ops.port", "ops.gpu"]
    assert lines[0] == "✖ max length fits context .. FAIL      team.max-len"
    assert lines[4] == "⚠ images pinned ............ WARN      team.soft"


def test_the_default_shows_what_needs_a_person_then_skips_by_reason_then_the_counts(project):
    out = report(project, "text")
    assert [line for line in out.splitlines() if line[:1] in "✔✖⚠ℹ-"] == [
        "✖ max length fits context .. FAIL      team.max-len",
        "⚠ every item ok ............ WAIVED    team.items",
        "✖ every item ok ............ FAIL      team.items",
        "⚠ images pinned ............ WARN      team.soft",
        "ℹ many replicas ............ FAIL      team.note",
        "✖ port above 1000 .......... ERROR     ops.port",
        "- 1 rule skipped: file.serving.gpu is false (ops.gpu)",  # no OK line: passes are only counted
    ]
    assert "  • max_model_len 8192 > context 4096\n    file.serving.max_model_len <= params.context → 8192 <= 4096\n" in out
    assert "\n    file.serving.pinned = false\n" in out and "\n    file.serving.port = \"80\"\n" in out  # one line, no tree
    assert out.endswith("1 passed, 4 failed, 1 errors, 1 skipped, 1 waived (3 blocking)\n→ Aborting deploy (use --force to override)\n")


def test_quiet_prints_only_what_fails_the_run_and_the_verdict(project):
    out = report(project, "text", "--quiet")
    assert [line.split()[-1] for line in out.splitlines() if line[:1] in "✔✖⚠ℹ-"] == ["team.max-len", "team.items", "ops.port"]
    assert "where" not in out and "skipped:" not in out and "WARN" not in out
    assert out.endswith("(3 blocking)\n→ Aborting deploy (use --force to override)\n")
    both = run_cli("eval", "--quiet", "--verbose", cwd=project)
    assert (both.returncode, both.stderr) == (2, "error: --verbose and --quiet ask for opposite things: give one of them\n")


class _Stream:
    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("choice,tty,environ,expected", [
    ("auto", True, {}, True),
    ("auto", False, {}, False),
    ("auto", True, {"TERM": "dumb"}, False),
    ("auto", True, {"NO_COLOR": "1"}, False),
    ("auto", True, {"NO_COLOR": ""}, True),  # no-color.org: only a non-empty value counts
    ("auto", False, {"FORCE_COLOR": "1"}, True),
    ("auto", False, {"FORCE_COLOR": ""}, False),
    ("auto", True, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),  # the opt-out wins
    ("always", False, {"NO_COLOR": "1"}, True),  # --color wins over both variables
    ("never", True, {"FORCE_COLOR": "1"}, False),
])
def test_when_to_colour(choice, tty, environ, expected):
    assert use_color(_Stream(tty), choice, environ) is expected


def _on_a_tty(project, *args: str, env: dict[str, str]) -> str:
    primary, secondary = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update(env)
    subprocess.run([*cli_command(), "eval", *args], cwd=project, stdout=secondary, stderr=subprocess.DEVNULL, env=full_env, timeout=60)
    os.close(secondary)
    return read_pty(primary)


def test_colour_through_the_cli(project):
    assert "\033[31m✖" in _on_a_tty(project, env={"TERM": "xterm"})
    assert "\033[" not in _on_a_tty(project, env={"TERM": "dumb"})
    assert "\033[" not in _on_a_tty(project, "--color", "never", env={"TERM": "xterm", "FORCE_COLOR": "1"})
    assert "\033[31m✖" in report(project, "text", env={"FORCE_COLOR": "1", "NO_COLOR": ""})  # not a terminal
    assert "\033[31m✖" in report(project, "text", "--color", "always")  # run_cli sets NO_COLOR=1
    assert "\033[" not in report(project, "json", "--color", "always")  # only the text format has colour
    assert run_cli("eval", "--color", "sometimes", cwd=project).stderr.strip() == "error: --color 'sometimes' is not one of: auto, always, never"


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_an_output_that_cannot_carry_the_symbols_gets_ascii(project, fmt, encoding):
    """Some CI runners have an ASCII or cp1252 stdout: every format still comes out whole,
    parseable where it is a data format, with ASCII symbols; never exit 3."""
    (project / "team.yaml").write_text((project / "team.yaml").read_text().replace("title: images pinned", "title: images pinned ↔ 💤 é"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFGY_")}
    env.update(NO_COLOR="1", PYTHONIOENCODING=encoding)
    done = subprocess.run([*cli_command(), "eval", "--format", fmt], cwd=project, env=env, capture_output=True, timeout=60)
    stderr = done.stderr.decode(encoding)
    assert done.returncode == 1 and "Traceback" not in stderr and "internal error" not in stderr, stderr
    out = done.stdout.decode(encoding)
    assert out.replace("é", "").isascii()  # cp1252 carries é, nothing else here
    if fmt in ("json", "sarif"):
        data = json.loads(out)
        assert "images pinned ↔ 💤 é" in json.dumps(data, ensure_ascii=False)  # escaped, not lost
    elif fmt == "junit":
        assert ET.fromstring(out).find(".//testcase[@name='team.soft']") is not None
        assert "images pinned ↔ 💤" not in out and "&#8596;" in out
    elif fmt == "text":
        assert out.splitlines()[0] == "x max length fits context .. FAIL      team.max-len"
        assert f"! images pinned <-> \\U0001f4a4 {'é' if encoding == 'cp1252' else chr(92) + 'xe9'} " in out and "-> Aborting deploy" in out
    elif fmt == "markdown":
        assert out.startswith("## :x: wfgy-rules: failed\n")


def test_preflight_report_on_an_ascii_stderr(project):
    done = run_cli("preflight", cwd=project, env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 1 and "x max length fits context" in done.stderr and "\\u2716" not in done.stderr
