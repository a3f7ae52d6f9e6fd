"""Failing results explain themselves: each sub-expression with its value (pytest style), as
data (given facts → expected steps), and through the real CLI in every report."""

from __future__ import annotations

import json

import jmespath
import pytest

from tests.helpers import run_cli, write_project
from tests.run.test_engine import rules_of
from wfgy_rules.model import Bundle, Status
from wfgy_rules.policy.subexpressions import explain, unparse
from wfgy_rules.run.engine import evaluate

SHA = "d5b64bb613c8ae542ed0e9cfba52a85eea7c8e865edcd041f2b22f77784266ea"
FACTS = {"file": {"sha": SHA, "declared": "ad4c1b9", "names": ["A", "B"], "n": 3, "v": None}}


@pytest.mark.parametrize("text,steps", [
    ("starts_with(file.sha, file.declared)",
     [(0, "starts_with(file.sha, file.declared)", False), (1, "file.sha", SHA), (1, "file.declared", "ad4c1b9")]),
    ("file.sha != null && starts_with(file.sha, file.declared)",
     [(0, "file.sha != null && starts_with(file.sha, file.declared)", False), (1, "file.sha != null", True), (2, "file.sha", SHA),
      (1, "starts_with(file.sha, file.declared)", False), (2, "file.sha", SHA), (2, "file.declared", "ad4c1b9")]),
    # the right side of && is shown only when JMESPath evaluated it
    ("file.v != null && starts_with(file.v, 'x')", [(0, "file.v != null && starts_with(file.v, 'x')", False), (1, "file.v != null", False), (2, "file.v", None)]),
    ("length(file.names) > `5`", [(0, "length(file.names) > `5`", False), (1, "length(file.names)", 2), (2, "file.names", ["A", "B"])]),
    ("!contains(file.names, 'A')", [(0, "!contains(file.names, 'A')", False), (1, "contains(file.names, 'A')", True), (2, "file.names", ["A", "B"])]),
    ("file.names[?@ == 'C'] | [0]", [(0, "file.names[?@ == 'C'] | [0]", None)]),
])
def test_explain_steps(text, steps):
    got = explain(jmespath.compile(text).parsed, FACTS)
    assert [(s.depth, s.text, s.value) for s in got] == steps


def test_a_sub_expression_that_errors_says_why():
    (root, call, a, b) = explain(jmespath.compile("version_drift(file.v, file.declared) != 'major'").parsed, FACTS)
    assert call.text == "version_drift(file.v, file.declared)" and "invalid type for value: None" in call.error
    assert (a.text, a.value, a.error) == ("file.v", None, None) and b.value == "ad4c1b9"


@pytest.mark.parametrize("text", ["a.b[0].c", "a[*].b", "a[?x == `1`].y", "a[]", "a.*.b", "a[1:2]", "a[::2]", "!a && b || c",
                                  "{k: a, j: b}", "[a, b]", "a | b", "sort_by(a, &b)", "\"odd key\"", "a.\"x-y\"", "a[-1]", "!(a || b)",
                                  "a && (b || c)", "a[*][0]", "a[0][1]", "(a == b) == c", "'it\\'s'", "`[1,2]`", "a.[b, c]", "a.{x: b}"])
def test_unparse_round_trips(text):
    ast = jmespath.compile(text).parsed
    assert jmespath.compile(unparse(ast)).parsed == ast


def test_engine_evidence_carries_the_values_of_failing_rules_only():
    rules = rules_of("    assert: starts_with(file.sha, file.declared)\n", "    assert: file.sha == file.declared\n",
                     "    assert: {key: length(file.names), op: ge, value: 3}\n", "    assert: {not: {key: length(file.names), op: ne, value_from: file.n}}\n",
                     "    assert: starts_with(file.sha, 'd5b')\n")
    results = evaluate(rules, Bundle(FACTS))
    assert [r.status for r in results] == [Status.fail] * 4 + [Status.pass_]
    first, second, third, fourth = (r.evidence[0].to_json() for r in results[:4])
    assert first == {"key": "starts_with(file.sha, file.declared)", "op": "truthy", "left": False, "right": None,
                     "values": [{"expr": "file.sha", "depth": 0, "value": SHA}, {"expr": "file.declared", "depth": 0, "value": "ad4c1b9"}]}
    assert "values" not in second  # both sides are plain paths: left and right say it all
    assert third["values"] == [{"expr": "file.names", "depth": 0, "value": ["A", "B"]}]
    assert fourth["op"] == "not" and [(v["depth"], v["expr"], v["value"]) for v in fourth["values"]] == [
        (0, "length(file.names)", 2), (1, "file.names", ["A", "B"]), (0, "file.n", 3)]
    assert results[4].evidence == ()


def test_an_error_result_shows_where_the_expression_broke():
    (result,) = evaluate(rules_of("    assert: version_cmp(file.v, '1') == `0`\n"), Bundle(FACTS))
    assert result.status is Status.error
    (evidence,) = result.evidence
    assert evidence.op == "error" and [(s.text, s.error is not None) for s in evidence.values] == [
        ("version_cmp(file.v, '1') == `0`", True), ("version_cmp(file.v, '1')", True), ("file.v", False)]


POLICY = """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: team}
rules:
  - id: team.prefix
    title: tokenizer prefix
    severity: high
    facts: [file]
    assert: "starts_with(file.serving.sha, file.serving.declared)"
"""


def test_every_report_shows_the_values(tmp_path):
    project = write_project(tmp_path, f"sha: {SHA}\ndeclared: ad4c1b9\n", POLICY)
    text = run_cli("eval", cwd=project)  # flat, one line per field; the hash at 12 digits
    assert text.returncode == 1
    assert f'    file.serving.sha = "{SHA[:12]}"\n    file.serving.declared = "ad4c1b9"\n0 passed, 1 failed' in text.stdout
    text = run_cli("eval", "--verbose", cwd=project)  # the tree
    assert "    where starts_with(file.serving.sha, file.serving.declared) → false (boolean)\n" \
           f'      file.serving.sha = "{SHA[:12]}" (string)\n' \
           '      file.serving.declared = "ad4c1b9" (string)\n' in text.stdout
    report = json.loads(run_cli("eval", "--format", "json", cwd=project).stdout)
    assert report["results"][0]["evidence"][0]["values"][1] == {"expr": "file.serving.declared", "depth": 0, "value": "ad4c1b9"}
    sarif = json.loads(run_cli("eval", "--format", "sarif", cwd=project).stdout)
    assert sarif["runs"][0]["results"][0]["properties"]["evidence"][0]["values"][0]["value"] == SHA
    junit = run_cli("eval", "--format", "junit", cwd=project).stdout
    assert "evidence: starts_with(file.serving.sha, file.serving.declared): false truthy null\n" \
           f'  file.serving.sha = "{SHA}" (string)\n' \
           '  file.serving.declared = "ad4c1b9" (string)' in junit
    explained = run_cli("explain", "team.prefix", cwd=project).stdout
    assert '      file.serving.declared = "ad4c1b9" (string)' in explained
