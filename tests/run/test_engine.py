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


def test_a_for_each_element_that_errors_is_never_dropped():
    (rule,) = rules_of("    for_each: file.items\n    assert: {key: item, op: lt, value: 5}\n")
    all_bad = evaluate([rule], Bundle({"file": {"items": ["a", "b"]}}))
    assert [(r.status.value, r.index) for r in all_bad] == [("error", 0), ("error", 1)]
    mixed = evaluate([rule], Bundle({"file": {"items": [1, "b", 9]}}))
    assert [(r.status.value, r.index) for r in mixed] == [("error", 1), ("fail", 2)]
    assert mixed[0].message == 'lt cannot compare "b" (string) with 5 (number)'


@pytest.mark.parametrize("value,status", [
    (0, "pass"),        # JMESPath, unlike Python: 0 is true
    (0.0, "pass"),
    ("0", "pass"),
    (" ", "pass"),
    ({"a": None}, "pass"),
    ("", "skip"),
    (False, "skip"),
    (None, "skip"),
    ([], "skip"),
    ({}, "skip"),
])
def test_when_truthiness_follows_jmespath(value, status):
    (rule,) = rules_of("    when: file.when\n    assert: file.x\n")
    (result,) = evaluate([rule], Bundle({"file": {"when": value, "x": True}}))
    assert result.status.value == status
    if status == "skip":
        assert result.message == "when is false: file.when"


def test_an_error_result_keeps_the_evidence_of_the_comparison_that_raised():
    (rule,) = rules_of("    assert: {all: [{key: file.a, op: eq, value: 1}, {key: file.b, op: lt, value: 3}]}\n")
    (result,) = evaluate([rule], Bundle({"file": {"a": 1, "b": "x"}}))
    assert result.status is Status.error
    assert [e.to_json() for e in result.evidence] == [{"key": "file.b", "op": "lt", "left": "x", "right": 3}]


def test_a_failing_any_shows_every_branch_and_a_passing_one_shows_none():
    (rule,) = rules_of("    assert: {any: [{key: file.a, op: eq, value: 1}, {key: file.b, op: ge, value: 2}]}\n")
    (failed,) = evaluate([rule], Bundle({"file": {"a": 0, "b": 1}}))
    assert [(e.key, e.op, e.left, e.right) for e in failed.evidence] == [("file.a", "eq", 0, 1), ("file.b", "ge", 1, 2)]
    (passed,) = evaluate([rule], Bundle({"file": {"a": 0, "b": 2}}))
    assert passed.status is Status.pass_ and passed.evidence == ()


def test_a_failing_not_names_the_condition_that_held():
    rules = rules_of(
        "    assert: {not: {key: file.a, op: eq, value: 1}}\n",
        "    assert: {not: {any: [{key: file.a, op: eq, value: 1}]}}\n",
        "    assert: {not: {all: [{key: file.a, op: eq, value: 1}]}}\n",
    )
    results = evaluate(rules, Bundle({"file": {"a": 1}}))
    assert [[e.to_json() for e in r.evidence] for r in results] == [
        [{"key": "file.a eq", "op": "not", "left": True, "right": False, "values": [{"expr": "file.a", "depth": 0, "value": 1}]}],
        [{"key": "anyof", "op": "not", "left": True, "right": False, "values": [{"expr": "file.a", "depth": 0, "value": 1}]}],
        [{"key": "allof", "op": "not", "left": True, "right": False, "values": [{"expr": "file.a", "depth": 0, "value": 1}]}],
    ]
    assert [r.evidence for r in evaluate(rules, Bundle({"file": {"a": 2}}))] == [(), (), ()]


def test_a_truthy_assert_shows_the_value_it_got():
    (rule,) = rules_of("    assert: file.items[?ok]\n")
    (result,) = evaluate([rule], Bundle({"file": {"items": [{"ok": False}]}}))
    assert [e.to_json() for e in result.evidence] == [{"key": "file.items[?ok]", "op": "truthy", "left": [], "right": None}]


def test_the_waiver_subject_holds_the_scalar_fields_of_an_element():
    (rule,) = rules_of("    for_each: file.items\n    assert: {key: item, op: eq, value: ok}\n")
    element = {"path": "p.txt", "line": 3, "ratio": 0.5, "secret": False, "tags": ["a"], "meta": {"k": 1}, "none": None}
    results = evaluate([rule], Bundle({"file": {"items": [element, 7, "ok", "bad"]}}))
    assert [(r.index, r.status.value, r.subject) for r in results] == [
        (0, "error", {"path": "p.txt", "line": 3, "ratio": 0.5, "secret": False}),
        (1, "error", {"value": 7}),
        (3, "fail", {"value": "bad"}),
    ]
    (whole,) = rules_of("    assert: file.ok\n")
    (result,) = evaluate([whole], Bundle({"file": {"ok": False}}))
    assert result.subject is None and result.index is None


@pytest.mark.parametrize("element,location", [
    ({"path": "a.txt", "line": 3, "column": 7}, "a.txt:3:7"),
    ({"path": "a.txt", "line": "3", "column": 7.0}, "a.txt"),
    ({"path": "a.txt"}, "a.txt"),
    ({"path": 5, "line": 3}, None),
    ({"line": 3}, None),
])
def test_the_location_of_an_element(element, location):
    (rule,) = rules_of("    for_each: file.items\n    assert: item.ok\n")
    (result,) = evaluate([rule], Bundle({"file": {"items": [element]}}))
    assert (str(result.location) if result.location else None) == location


def test_a_disabled_rule_is_skipped_before_its_facts_are_read():
    import dataclasses

    (rule,) = rules_of("    assert: file.x\n")
    (result,) = evaluate([dataclasses.replace(rule, enabled=False)], Bundle({}, {"file": "boom"}))
    assert (result.status.value, result.message) == ("skip", "disabled in config")


def test_a_failure_without_a_message_shows_the_title_and_the_remedy():
    (rule,) = rules_of("    assert: file.x\n")
    (result,) = evaluate([rule], Bundle({"file": {"x": False}}, target="a.json"))
    assert (result.message, result.action, result.severity, result.target, result.order) == ("rule 0", "abort", Severity.high, "a.json", (0, 0))
