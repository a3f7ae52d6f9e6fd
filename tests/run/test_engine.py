"""Evaluation semantics: statuses, when, for_each, evidence, provider failures, outcome."""

from __future__ import annotations

import pytest

from wfgy_rules.documents.yamlio import load_text
from wfgy_rules.model import Bundle, Severity, Status
from wfgy_rules.policy.compiler import compile_policy
from wfgy_rules.run.engine import evaluate
from wfgy_rules.run.outcome import decide

HEAD = "apiVersion: wfgy-rules/v1\nkind: Policy\nmetadata: {name: t}\nrules:\n"


def rules_of(*bodies: str, severity: str = "high", action: str = "abort"):
    text = HEAD + "".join(
        f"  - id: t.r{i}\n    title: rule {i}\n    severity: {severity}\n    facts: [file]\n    remedy: {{action: {action}}}\n{body}"
        for i, body in enumerate(bodies)
    )
    return list(compile_policy(load_text(text, "p.yaml"), 0, frozenset({"file", "env"})).rules)


def statuses(results):
    return [(r.rule_id, r.status.value) for r in results]


def test_string_assert_truthiness_follows_jmespath():
    rules = rules_of(*(f"    assert: file.{k}\n" for k in ("zero", "empty", "null", "false", "list", "missing")))
    facts = {"file": {"zero": 0, "empty": "", "null": None, "false": False, "list": [1]}}
    assert [r.status.value for r in evaluate(rules, Bundle(facts))] == ["pass", "fail", "fail", "fail", "pass", "fail"]


def test_when_false_skips_and_when_error_is_an_error():
    rules = rules_of("    when: file.enabled\n    assert: file.x\n", "    when: version_cmp(file.v, '1')\n    assert: file.x\n")
    results = evaluate(rules, Bundle({"file": {"enabled": False, "v": "bogus", "x": True}}))
    assert statuses(results) == [("t.r0", "skip"), ("t.r1", "error")]
    assert "not a version" in results[1].message


def test_for_each_yields_one_result_per_failing_item_with_location():
    (rule,) = rules_of(
        "    for_each: file.placeholders\n    assert: item.declared\n"
        "    message: \"{{ item.name }} is undeclared ({{ index }})\"\n"
    )
    items = [
        {"name": "a", "declared": True},
        {"name": "b", "declared": False, "path": "prompts/x.txt", "line": 3, "column": 7},
        {"name": "c", "declared": False},
    ]
    results = evaluate([rule], Bundle({"file": {"placeholders": items}}))
    assert [(r.status.value, r.index, r.message) for r in results] == [("fail", 1, "b is undeclared (1)"), ("fail", 2, "c is undeclared (2)")]
    assert str(results[0].location) == "prompts/x.txt:3:7" and results[1].location is None
    assert statuses(evaluate([rule], Bundle({"file": {"placeholders": items[:1]}}))) == [("t.r0", "pass")]
    assert statuses(evaluate([rule], Bundle({"file": {"placeholders": []}}))) == [("t.r0", "pass")]
    (bad,) = evaluate([rule], Bundle({"file": {"placeholders": "nope"}}))
    assert bad.status is Status.error and "expected a list" in bad.message


def test_condition_tree_evidence_names_key_op_and_both_values():
    (rule,) = rules_of(
        "    assert:\n      all:\n        - {key: file.torch, op: version_compatible, value_from: file.declared}\n"
        "        - {key: file.missing, op: empty}\n"
    )
    (result,) = evaluate([rule], Bundle({"file": {"torch": "2.4.0", "declared": "2.3.1", "missing": []}}))
    assert result.status is Status.fail
    assert [e.to_json() for e in result.evidence] == [{"key": "file.torch", "op": "version_compatible", "left": "2.4.0", "right": "2.3.1"}]


def test_any_and_not():
    rules = rules_of(
        "    assert: {any: [{key: file.a, op: eq, value: 1}, {key: file.b, op: eq, value: 2}]}\n",
        "    assert: {not: {key: file.a, op: eq, value: 1}}\n",
    )
    assert [r.status.value for r in evaluate(rules, Bundle({"file": {"a": 0, "b": 2}}))] == ["pass", "pass"]
    assert [r.status.value for r in evaluate(rules, Bundle({"file": {"a": 1, "b": 0}}))] == ["pass", "fail"]
    assert [r.status.value for r in evaluate(rules, Bundle({"file": {"a": 0, "b": 0}}))] == ["fail", "pass"]


def test_comparison_assert_evidence_shows_both_sides():
    (rule,) = rules_of("    assert: file.a == file.b\n")
    (result,) = evaluate([rule], Bundle({"file": {"a": "ad4c1b9", "b": "9e7f02d"}}))
    assert result.evidence[0].to_json() == {"key": "file.a == file.b", "op": "==", "left": "ad4c1b9", "right": "9e7f02d"}


def test_a_failed_provider_errors_only_its_rules():
    text = HEAD + (
        "  - id: t.a\n    title: a\n    severity: high\n    facts: [file]\n    assert: file.x\n"
        "  - id: t.b\n    title: b\n    severity: high\n    facts: [env]\n    assert: env.x\n"
    )
    rules = list(compile_policy(load_text(text, "p.yaml"), 0, frozenset({"file", "env"})).rules)
    results = evaluate(rules, Bundle({"env": {"x": 1}}, {"file": "provider 'file' failed: boom"}))
    assert [(r.status.value, r.message) for r in results] == [("error", "provider 'file' failed: boom"), ("pass", "")]
    (missing,) = evaluate(rules[:1], Bundle({}))
    assert missing.message == "no facts from provider 'file' in the bundle"


@pytest.mark.parametrize("severity,action,status,fail_on,failed", [
    ("high", "abort", "fail", "low", True),
    ("high", "block", "error", "low", True),
    ("low", "abort", "fail", "medium", False),
    ("info", "abort", "fail", "info", False),  # info never fails the run
    ("critical", "warn", "fail", "low", False),
    ("critical", "fallback", "fail", "low", False),
])
def test_outcome_blocking(severity, action, status, fail_on, failed):
    body = "    assert: file.x\n" if status == "fail" else "    assert: version_cmp(file.x, '1')\n"
    rules = rules_of(body, severity=severity, action=action)
    results = evaluate(rules, Bundle({"file": {"x": False if status == "fail" else "bad"}}))
    outcome = decide(results, Severity[fail_on], force=False)
    assert outcome.failed is failed and outcome.exit_code == int(failed)
    forced = decide(results, Severity[fail_on], force=True)
    assert forced.exit_code == 0 and forced.forced is failed and len(forced.overridden) == int(failed)
