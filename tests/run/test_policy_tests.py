"""`wfgy-rules test`: the built-in packs' own tests, and how failures and bad files look."""

from __future__ import annotations

import re

from tests.helpers import REPO, run_cli

CASE = """apiVersion: wfgy-rules/v1
kind: PolicyTest
policies: [team.yaml]
cases:
  - name: replicas
    facts: {file: {replicas: 1}}
    expect: {team.replicas: %s}
"""
TEAM = """apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: team}
rules:
  - id: team.replicas
    title: replicas
    severity: high
    facts: [file]
    assert: {key: file.replicas, op: ge, value: 2}
  - id: team.other
    title: other
    severity: low
    facts: [file]
    assert: file.x
"""


def test_builtin_packs_pass_their_own_tests_and_every_rule_is_covered():
    done = run_cli("test", "rules", "--require-tests", cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"(\d+) passed, 0 failed", last)
    assert match and int(match.group(1)) >= 8
    assert "rules no case covers" not in done.stdout


def test_failing_case_shows_expected_actual_and_evidence(tmp_path):
    (tmp_path / "team.yaml").write_text(TEAM)
    (tmp_path / "team.test.yaml").write_text(CASE % "pass")
    done = run_cli("test", cwd=tmp_path)
    assert done.returncode == 1
    assert "✖ team.test.yaml :: replicas" in done.stdout
    assert "team.replicas: expected pass, got fail" in done.stdout
    assert "evidence: file.replicas ge left=1 right=2" in done.stdout
    assert "rules no case covers (1): team.other" in done.stdout
    assert done.stdout.strip().endswith("0 passed, 1 failed")


def test_require_tests_fails_on_uncovered_rules(tmp_path):
    (tmp_path / "team.yaml").write_text(TEAM)
    (tmp_path / "team.test.yaml").write_text(CASE % "fail")
    assert run_cli("test", cwd=tmp_path).returncode == 0
    done = run_cli("test", "--require-tests", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout.strip().endswith("1 passed, 0 failed")


def test_invalid_test_file_is_exit_2_with_location(tmp_path):
    (tmp_path / "team.yaml").write_text(TEAM)
    (tmp_path / "bad.test.yaml").write_text(CASE.replace("expect:", "expekt:") % "fail")
    done = run_cli("test", cwd=tmp_path)
    assert done.returncode == 2
    assert "bad.test.yaml:7:5: cases[0].expekt: unknown key 'expekt' (did you mean 'expect'?)" in done.stderr


def test_no_tests_found_is_exit_2(tmp_path):
    done = run_cli("test", cwd=tmp_path)
    assert done.returncode == 2 and "no policy tests found" in done.stderr
