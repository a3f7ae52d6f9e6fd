"""The compiler's shortcuts give what its full paths give."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from wfgy_rules.documents.yamlio import load_text
from wfgy_rules.model import Rule
from wfgy_rules.policy.compiler import _RuleCompiler, compile_policy
from wfgy_rules.policy.loader import load_policies
from wfgy_rules.providers import registry


@pytest.mark.parametrize("action", ["abort", "warn", "block", "fallback"])
def test_a_bare_action_remedy_equals_the_full_path(action):
    compiler = _RuleCompiler(load_text("a: 1\n", "p.yaml"), registry.names(), None)
    shared = compiler.remedy({"action": action}, ("rules", 0, "remedy"))
    full = compiler.remedy({"action": action, "hint": ""}, ("rules", 1, "remedy"))  # not a bare action: the full path
    assert shared == full and repr(shared) == repr(full)
    assert compiler.remedy({"action": action}, ("rules", 2, "remedy")) is shared
    assert compiler.problems == []


RULES = """apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: t, owner: team}
stage: deploy
rules:
  - id: t.plain
    title: plain
    severity: high
    facts: [file]
    assert: file.x > `1`
  - id: t.full
    title: full
    description: every optional field
    severity: low
    facts: [file, env]
    params: {limit: 3}
    for_each: file.items
    when: env.on
    assert: {all: [{key: item.n, op: lt, value: 3}, {not: {key: index, op: eq, value_from: params.limit}}]}
    message: '{{ item.n }} of {{ index }}'
    remedy: {action: warn, hint: shorten it, timeout: 5s}
    references: [https://example.com]
    tags: [a, b]
    stage: ci
"""


def test_a_rule_built_without_its_dataclass_init_equals_the_dataclass_built_one():
    """`compiler._new_rule` against ``Rule(**fields)``: every field set, the same values, the
    same repr (the built-in packs and a rule with every optional field)."""
    names = [f.name for f in dataclasses.fields(Rule)]
    rules = [*compile_policy(load_text(RULES, "p.yaml"), 0, registry.names()).rules, *load_policies(["builtin"], Path(".")).rules]
    for rule in rules:
        assert list(vars(rule)) == names, rule.id
        rebuilt = Rule(**vars(rule))
        assert rule == rebuilt and repr(rule) == repr(rebuilt) and hash(rule.location) == hash(rebuilt.location)
    full = rules[1]
    assert (full.enabled, full.stage, full.owner, full.params, full.tags) == (True, "ci", "team", {"limit": 3}, ("a", "b"))
    assert (rules[0].enabled, rules[0].stage, rules[0].remedy.action) == (True, "deploy", "abort")
