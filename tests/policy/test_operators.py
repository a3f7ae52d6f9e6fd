"""Every operator through a real rule: facts in, status out (data in tests/policy/data/operators.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wfgy_rules.documents.yamlio import load_text
from wfgy_rules.model import Bundle
from wfgy_rules.policy.compiler import compile_policy
from wfgy_rules.policy.operators import OPERATORS
from wfgy_rules.run.engine import evaluate

CASES = yaml.safe_load((Path(__file__).parent / "data" / "operators.yaml").read_text())
STATUS = {True: "pass", False: "fail", "error": "error"}


def rule_for(op: str, right, ignore) -> str:
    import json

    value = "" if right is None and op in ("exists", "absent", "empty", "not_empty") else ", value_from: file.right"
    return (
        "apiVersion: wfgy-rules/v1\nkind: Policy\nmetadata: {name: ops}\nrules:\n"
        f"  - id: ops.case\n    title: case\n    severity: high\n    facts: [file]\n"
        f"    params: {{ignore_versions: {json.dumps(ignore)}}}\n"
        f"    assert: {{key: file.left, op: {op}{value}}}\n"
    )


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_operator_case(case):
    op, left, right, expected, *rest = case
    ignore = rest[0] if rest else []
    policy = compile_policy(load_text(rule_for(op, right, ignore), "ops.yaml"), 0, frozenset({"file"}))
    (result,) = evaluate(list(policy.rules), Bundle({"file": {"left": left, "right": right}}))
    assert result.status.value == STATUS[expected], result.message
    if expected == "error" and op in ("eq", "ne", "lt", "ge") and left is not None and right is not None:
        assert str(left).lower() in result.message.lower() and str(right).lower() in result.message.lower()
    if expected is False:
        assert result.evidence and result.evidence[0].left == left


def test_every_operator_has_cases():
    assert {c[0] for c in CASES} == set(OPERATORS)
