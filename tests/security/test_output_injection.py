r"""Repository content cannot inject commands, escape sequences, mentions or links through a
report (`wfgy_rules.reporters.escaping`).

A prompt file whose *name* holds a newline, ``::error``/``::add-mask::``/``::stop-commands::``,
ESC/OSC sequences, BEL and CR; a ``file`` fact and a team policy's title holding the same (and
NUL); an environment variable whose *name* does: all through the real CLI in every format.

- text: no control character at all, and no line starting with ``::`` (the GitHub runner
  reads such a line as a workflow command; it trims leading whitespace first);
- github: one workflow command per failing result, each ``::error|warning|notice`` with the
  four known properties, no raw control character; the job summary as markdown;
- markdown: no control character but line ends, no ``@mention``, no bare URL, the table intact;
- json, sarif: valid JSON holding every value exactly, with no raw control character;
- junit: well-formed XML 1.0;
- ``explain`` and ``diff`` (text and markdown) as the text and markdown reports.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers import run_cli

# What an attacker would write: a new line that is a workflow command, terminal escapes, mentions, links.
ATTACK = ("x\n::error title=pwn::owned\r::add-mask::hidden\n::stop-commands::tok\n\x1b]0;pwned-title\x07\x1b[2J"
          "\x9b31m\x7f\u2028@octocat @org/team https://evil.example.com/x www.evil.example.com")
FILE_NAME = ATTACK.replace("/", "\u2215") + ".j2"  # a file name cannot hold '/'
ENV_NAME = "EVIL\n::add-mask::owned\x1b]0;t\x07"  # a name cannot hold "="

POLICY = """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: hostile}
rules:
  - id: hostile.value
    title: "value\\n::error title=t::from a title\\e]0;t\\a @octocat"
    severity: high
    facts: [file]
    assert: "`false`"
    message: "value {{ file.serving.name }}"
    remedy: {action: abort, hint: "fix {{ file.serving.name }}"}
  - id: hostile.evidence
    title: compares a hostile value
    severity: low
    facts: [file]
    assert: {key: file.serving.name, op: eq, value: safe}
  - id: hostile.prompt
    title: prompt variables declared
    severity: high
    facts: [prompts]
    for_each: prompts.undeclared
    assert: "`false`"
    message: "{{ item.path }} needs {{ item.name }}"
  - id: hostile.env
    title: odd variable names
    severity: medium
    facts: [env]
    for_each: "env.names[?starts_with(@, 'EVIL')]"
    assert: "`false`"
    message: "{{ item }}"
"""

CONFIG = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: [hostile.yaml]
providers:
  file: {files: {serving: serving.json}}
  prompts: {paths: ["prompts/*"]}
"""

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
SGR = re.compile("\x1b\\[[0-9;]*m")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / FILE_NAME).write_text("Hello {{ customer }}\n")
    (tmp_path / "serving.json").write_text(json.dumps({"name": ATTACK + "\x00nul"}))
    (tmp_path / "hostile.yaml").write_text(POLICY)
    (tmp_path / "wfgy.yaml").write_text(CONFIG)
    return tmp_path


def run(root: Path, *args: str, env: dict[str, str] | None = None):
    done = run_cli("eval", *args, cwd=root, env={ENV_NAME: "1", "GITHUB_STEP_SUMMARY": "", **(env or {})})
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def assert_safe_lines(text: str) -> None:
    for line in text.split("\n"):
        assert not CONTROL.search(line), repr(line)
        assert not line.lstrip().startswith("::"), repr(line)


def assert_every_attack_is_shown(text: str) -> None:
    """Shown, not dropped: the reader still sees what the repository holds."""
    for shown in ("::error title=pwn::owned", "\\x1b]0;pwned-title\\x07", "\\x00nul", "EVIL\\n::add-mask::owned", "prompts/x\\n::error"):
        assert shown in text, shown


def test_text_shows_control_characters_as_escapes(hostile):
    out = run(hostile)
    assert_safe_lines(out)
    assert_every_attack_is_shown(out)


def test_coloured_text_holds_no_escape_but_its_own_colours(hostile):
    out = run(hostile, "--color", "always")
    assert_safe_lines(SGR.sub("", out))
    assert_every_attack_is_shown(SGR.sub("", out))


def test_github_commands_cannot_be_broken_or_added(hostile, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("")
    out = run(hostile, "-f", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    lines = out.rstrip("\n").split("\n")
    assert not CONTROL.search(out.replace("\n", ""))
    commands = [line for line in lines if line.lstrip().startswith("::")]
    assert len(commands) == len(lines) - 1 == 4, lines  # value, evidence, prompt, env; then the counts
    for line in commands:
        match = re.fullmatch(r"::(error|warning|notice) ([^:]*)::(.*)", line)
        assert match, line
        for prop in match.group(2).split(","):
            key, _, value = prop.partition("=")
            assert key in {"file", "line", "col", "title"} and "," not in value, prop
    assert_markdown_safe(summary.read_text())


def assert_markdown_safe(text: str) -> None:
    assert not CONTROL.search(text.replace("\n", "")), text
    assert not re.search("@(?!\u200b)", text), text
    assert not re.search(r"(?i)(https?://|www\.)", text), text
    header = next(line for line in text.splitlines() if line.startswith("| |"))
    borders = len(re.findall(r"(?<!\\)\|", header))
    for line in text.splitlines():
        if line.startswith("|"):
            assert len(re.findall(r"(?<!\\)\|", line)) == borders, line
    assert "\\x1b\\]0;pwned-title\\x07" in text  # shown (markup escaped), never sent


def test_markdown_has_no_mentions_links_or_control_characters(hostile):
    assert_markdown_safe(run(hostile, "-f", "markdown"))


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_json_formats_stay_valid_and_exact(hostile, fmt):
    out = run(hostile, "-f", fmt)
    assert not CONTROL.search(out.replace("\n", ""))
    document = json.loads(out)
    text = json.dumps(document, ensure_ascii=False)
    for value in (ATTACK + "\x00nul", FILE_NAME, ENV_NAME):
        assert json.dumps(value, ensure_ascii=False)[1:-1] in text, value


def test_junit_is_well_formed_xml(hostile):
    out = run(hostile, "-f", "junit")
    root = ET.fromstring(out.encode("utf-8"))
    assert root.tag == "testsuites"
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", out)
    assert "::error title=pwn::owned" in out


def test_report_files_escape_as_the_stream_does(hostile, tmp_path):
    run(hostile, "-o", str(tmp_path / "out.txt"), "--report", f"markdown={tmp_path / 'out.md'}",
        "--report", f"junit={tmp_path / 'out.xml'}")
    assert_safe_lines((tmp_path / "out.txt").read_text())
    assert_markdown_safe((tmp_path / "out.md").read_text())
    ET.parse(tmp_path / "out.xml")


def test_error_lines_on_stderr_cannot_start_a_workflow_command(tmp_path):
    name = "a\n::error title=pwn::b.yaml"
    (tmp_path / name).write_text("x: [")
    done = run_cli("validate", name, cwd=tmp_path)
    assert done.returncode == 2
    assert not any(line.startswith("::") for line in done.stderr.splitlines())
    assert "a\\n::error title=pwn::b.yaml:" in done.stderr


@pytest.mark.parametrize("rule", ["hostile.value", "hostile.evidence"])
def test_explain_shows_hostile_titles_and_values_as_escapes(hostile, rule):
    done = run_cli("explain", rule, cwd=hostile, env={ENV_NAME: "1"})
    assert done.returncode == 0, done.stderr
    assert_safe_lines(done.stdout)
    assert "::error title=pwn::owned" in done.stdout and "pwned-title" in done.stdout


def test_diff_of_bundles_escapes_hostile_fields_and_values(hostile):
    done = run_cli("facts", "-o", "new.json", cwd=hostile, env={ENV_NAME: "1"})
    assert done.returncode == 0, done.stderr
    bundle = json.loads((hostile / "new.json").read_text())
    bundle["file"]["serving"] = {"name": "safe", ATTACK: 1}
    (hostile / "old.json").write_text(json.dumps(bundle))
    args = ("diff", "--facts", "old.json", "--facts", "new.json")
    text = run_cli(*args, cwd=hostile).stdout
    assert_safe_lines(text)
    assert "::error title=pwn::owned" in text and "\\x1b]0;pwned-title\\x07" in text
    assert_markdown_safe(run_cli(*args, "--format", "markdown", cwd=hostile).stdout)
