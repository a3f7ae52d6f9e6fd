"""A policy cannot exhaust the machine: values an expression builds, messages and evidence
are bounded in size, and each rule in time (``WFGY_RULE_TIMEOUT``, default 10 s). A rule over
a bound is an ``error`` result naming it; every other rule is still judged.

``[@,@]`` thirty times over used to run past 60 s and 1.7 GB from a message template."""

from __future__ import annotations

import json
import resource
import subprocess
import time

import pytest

from tests.helpers import cli_command, run_cli

STEPS = " | ".join(["[@,@]"] * 30)
RULES = {
    "team.message": ("`false`", f"{{{{ params.x | {STEPS} }}}}"),
    "team.flatten": (f"length(params.x | {STEPS} | {'[]' * 29}) > `0`", "x"),
    "team.to-string": (f"length(to_string(params.x | {STEPS})) > `0`", "x"),
    "team.deep-equal": ("`true`", "x"),  # replaced below by a condition tree
}
POLICY_HEAD = "apiVersion: wfgy-rules/v1\nkind: Policy\nmetadata: {name: team}\nrules:\n"
RULE = """  - id: %s
    title: bounded
    severity: high
    facts: [file]
    params: {x: 1}
    assert: %s
    message: %s
"""
DEEP = f"""  - id: team.deep-equal
    title: bounded
    severity: high
    facts: [file]
    params: {{x: 1}}
    assert: {{key: "params.x | {' | '.join(['[@,@]'] * 26)}", op: eq, value_from: "params.x | {' | '.join(['[@,@]'] * 26)}"}}
  - id: team.fine
    title: an ordinary rule beside them
    severity: high
    facts: [file]
    assert: "file.s.a == `1`"
"""


@pytest.fixture
def project(tmp_path):
    rules = "".join(RULE % (rule_id, json.dumps(check), json.dumps(message)) for rule_id, (check, message) in RULES.items() if rule_id != "team.deep-equal")
    (tmp_path / "team.yaml").write_text(POLICY_HEAD + rules + DEEP)
    (tmp_path / "wfgy.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Config\npolicies: [team.yaml]\nproviders: {file: {files: {s: s.yaml}}}\n")
    (tmp_path / "s.yaml").write_text("a: 1\n")
    return tmp_path


def test_blowing_up_rules_end_quickly_in_bounded_memory_as_errors(project):
    def limit_memory():  # 1.5 GB of address space: Python plus 500 MB of work, with room
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))

    started = time.monotonic()
    done = subprocess.run([*cli_command(), "eval", "-f", "json"], cwd=project, capture_output=True, text=True, timeout=60,
                          preexec_fn=limit_memory, env={"WFGY_RULE_TIMEOUT": "3", "PATH": "/usr/bin:/bin"})
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert elapsed < 20
    results = {r["rule_id"]: r for r in json.loads(done.stdout)["results"]}
    assert results["team.message"]["message"] == "<error: an array of more than 100000 values is too large to put in a message>"
    assert results["team.flatten"]["status"] == "error" and "more than 1000000 elements" in results["team.flatten"]["message"]
    assert results["team.to-string"]["status"] == "error" and "too large" in results["team.to-string"]["message"]
    assert results["team.deep-equal"]["status"] == "error"
    assert results["team.deep-equal"]["message"] == "evaluation took longer than 3s (WFGY_RULE_TIMEOUT) and was stopped"
    assert results["team.fine"]["status"] == "pass"


def test_the_time_budget_is_configurable(project):
    started = time.monotonic()
    done = run_cli("eval", "--only", "team.deep-equal", "-f", "json", cwd=project, env={"WFGY_RULE_TIMEOUT": "1"})
    assert time.monotonic() - started < 10
    assert json.loads(done.stdout)["results"][0]["message"] == "evaluation took longer than 1s (WFGY_RULE_TIMEOUT) and was stopped"
