"""Load-time checks of SPEC §3: each bad policy gets its full, located, one-line error."""

from __future__ import annotations

import pytest

from wfgy_rules.documents.yamlio import load_text
from wfgy_rules.errors import PolicyError
from wfgy_rules.policy.compiler import compile_policy

HEAD = "apiVersion: wfgy-rules/v1\nkind: Policy\nmetadata: {name: t}\nrules:\n"
RULE = "  - id: t.r\n    title: r\n    severity: high\n    facts: [file, env]\n"
PROVIDERS = frozenset({"file", "env", "model_card", "nvml"})


def problems(body: str, rule: str = RULE) -> list[str]:
    with pytest.raises(PolicyError) as info:
        compile_policy(load_text(HEAD + rule + body, "p.yaml"), 0, PROVIDERS)
    return info.value.lines()


CASES = [
    ("    asert: file.x\n", ["p.yaml:5:5: rules[0]: missing required key 'assert'", "p.yaml:9:5: rules[0].asert: unknown key 'asert' (did you mean 'assert'?)"]),
    ("    assert: 'file.['\n", ["p.yaml:9:13: rules[0].assert: invalid JMESPath 'file.[': Invalid jmespath expression: Incomplete expression: \"file.[\" ^"]),
    ("    assert: verison_cmp(file.a, '1')\n", ["p.yaml:9:13: rules[0].assert: unknown function verison_cmp() (did you mean 'version_cmp'?)"]),
    ("    assert: modle_card.x\n", ["p.yaml:9:13: rules[0].assert: reads 'modle_card', which is not in facts, params"]),
    ("    assert: {key: file.x, op: eqq, value: 1}\n", ["p.yaml:9:31: rules[0].assert.op: \"eqq\" (string) is not one of: eq, ne, lt, le, gt, ge, in, not_in, contains, not_contains, any_in, all_in, regex, exists, absent, empty, not_empty, version_eq, version_lt, version_le, version_gt, version_ge, version_satisfies, version_compatible (did you mean 'eq'?)"]),
    ("    assert: {key: file.x, op: eq}\n", ["p.yaml:9:13: rules[0].assert: op eq needs exactly one of value or value_from"]),
    ("    assert: {key: file.x, op: exists, value: 1}\n", ["p.yaml:9:13: rules[0].assert: op exists takes no value or value_from"]),
    ("    assert: {all: [{key: file.x, op: version_ge, value: latest}]}\n", ["p.yaml:9:57: rules[0].assert.all[0].value: \"latest\" (string) is not a version"]),
    ("    assert: {key: file.x, op: regex, value: '(a+)+'}\n", ["p.yaml:9:45: rules[0].assert.value: regular expression '(a+)+' nests quantifiers (e.g. (a+)+), which can backtrack catastrophically"]),
    ("    assert: {any: [{key: file.a, op: exists}], key: file.b, op: exists}\n", ["p.yaml:9:13: rules[0].assert: a condition needs exactly one of: all, any, not, or key + op"]),
    ("    assert: file.x == true\n", ["p.yaml:9:13: rules[0].assert: bare true is a field name in JMESPath (always null); write the literal `true` in backticks"]),
    ("    assert: file.x\n    message: 'value {{ item.x }}'\n", ["p.yaml:10:14: rules[0].message: reads 'item', which is not in facts, params"]),
    ("    assert: file.x\n    remedy: {action: explode}\n", ["p.yaml:10:22: rules[0].remedy.action: \"explode\" (string) is not one of: abort, warn, block, fallback"]),
]


@pytest.mark.parametrize("body,expected", CASES)
def test_bad_rule_gets_located_one_line_errors(body, expected):
    assert problems(body) == expected


def test_unknown_provider_and_all_errors_of_a_file_at_once():
    rule = "  - id: t.r\n    title: r\n    severity: high\n    facts: [nvmll]\n    assert: nvmll.x\n"
    second = "  - id: t.s\n    title: s\n    severity: loww\n    facts: [file]\n    assert: file.x\n"
    lines = problems(second, rule)
    assert lines == [
        "p.yaml:8:13: rules[0].facts[0]: unknown provider 'nvmll' (did you mean 'nvml'?); installed: env, file, model_card, nvml",
        "p.yaml:12:15: rules[1].severity: \"loww\" (string) is not one of: info, low, medium, high, critical (did you mean 'low'?)",
    ]


def test_for_each_scope_allows_item_and_index():
    text = HEAD + RULE + "    for_each: file.items\n    assert: item.ok\n    message: '{{ index }}: {{ item.name }}'\n"
    policy = compile_policy(load_text(text, "p.yaml"), 0, PROVIDERS)
    assert policy.rules[0].for_each.text == "file.items"


def test_item_is_not_allowed_inside_for_each_itself():
    assert problems("    for_each: item.x\n    assert: item.ok\n") == ["p.yaml:9:15: rules[0].for_each: reads 'item', which is not in facts, params"]


def test_a_schema_error_does_not_hide_the_expression_errors_of_the_same_rule():
    rule = "  - id: t.r\n    title: r\n    severity: urgent\n    facts: [file]\n    assert: 'file.app.[name'\n    when: modle_card.x\n"
    assert problems("", rule) == [
        "p.yaml:7:15: rules[0].severity: \"urgent\" (string) is not one of: info, low, medium, high, critical",
        "p.yaml:9:13: rules[0].assert: invalid JMESPath 'file.app.[name': Invalid jmespath expression: Incomplete expression: \"file.app.[name\" ^",
        "p.yaml:10:11: rules[0].when: reads 'modle_card', which is not in facts, params",
    ]


def test_names_are_not_checked_against_facts_the_schema_rejected():
    rule = "  - id: t.r\n    title: r\n    severity: high\n    facts: file\n    assert: 'file.x && verison_cmp(file.a, `1`)'\n"
    assert problems("", rule) == [
        "p.yaml:8:12: rules[0].facts: expected array, got \"file\" (string)",
        "p.yaml:9:13: rules[0].assert: unknown function verison_cmp() (did you mean 'version_cmp'?)",
    ]


def test_a_rule_takes_its_policy_stage_unless_it_names_its_own():
    text = HEAD.replace("rules:\n", "stage: deploy\nrules:\n") + RULE + "    assert: file.x\n" + RULE.replace("t.r", "t.s") + "    stage: ci\n    assert: file.x\n"
    assert [r.stage for r in compile_policy(load_text(text, "p.yaml"), 0, PROVIDERS).rules] == ["deploy", "ci"]
    assert compile_policy(load_text(HEAD + RULE + "    assert: file.x\n", "p.yaml"), 0, PROVIDERS).rules[0].stage == "any"
    assert problems("    assert: file.x\n    stage: build\n") == ["p.yaml:10:12: rules[0].stage: \"build\" (string) is not one of: any, ci, deploy"]
