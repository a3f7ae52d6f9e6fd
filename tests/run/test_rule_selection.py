"""``--only``/``--skip``/``--stage`` (`wfgy_rules.run.rule_selection.select`): a selection that
matches nothing is an error with a hint, never ``0 passed, 0 failed``."""

from __future__ import annotations

import pytest

from wfgy_rules.errors import UsageError
from wfgy_rules.model import Rule, Severity, SourceLocation
from wfgy_rules.run.rule_selection import select

STAGES = {"prompt.undeclared-placeholder": "any", "prompt.syntax-error": "any", "boot.secrets-present": "deploy",
          "cuda.gpu-present": "deploy", "team.lint": "ci"}
RULES = [Rule(rule_id, rule_id, Severity.high, ("file",), None, "p", "p.yaml", SourceLocation("p.yaml"), (0, i), stage=stage)
         for i, (rule_id, stage) in enumerate(STAGES.items())]


def ids(only=(), skip=(), stage="all") -> list[str]:
    return [rule.id for rule in select(RULES, list(only), list(skip), stage)]


def error(only=(), skip=(), stage="all") -> str:
    with pytest.raises(UsageError) as info:
        select(RULES, list(only), list(skip), stage)
    return str(info.value)


def test_stages_select_their_own_rules_and_the_any_rules():
    assert ids(stage="ci") == ["prompt.undeclared-placeholder", "prompt.syntax-error", "team.lint"]
    assert ids(stage="deploy") == ["prompt.undeclared-placeholder", "prompt.syntax-error", "boot.secrets-present", "cuda.gpu-present"]
    assert ids() == list(STAGES)
    assert ids(only=["prompt.*", "boot.*"], skip=["prompt.syntax-error"], stage="ci") == ["prompt.undeclared-placeholder"]


@pytest.mark.parametrize("only,skip,stage,expected", [
    (["promt.*"], [], "all", "--only 'promt.*' matches no loaded rule (did you mean 'prompt.*'?); see 'wfgy-rules list'"),
    (["prompt.*"], ["boot.secret-present"], "all", "--skip 'boot.secret-present' matches no loaded rule (did you mean 'boot.secrets-present'?); see 'wfgy-rules list'"),
    (["kube.*"], [], "all", "--only 'kube.*' matches no loaded rule; see 'wfgy-rules list'"),
    (["boot.*", "cuda.*"], [], "ci", "--only boot.* cuda.*: its 2 rule(s) are of stage deploy; --stage ci runs any and ci rules"),
    ([], [], "build", "--stage 'build' is not one of: ci, deploy, all"),
])
def test_a_selection_of_nothing_is_an_error_with_a_hint(only, skip, stage, expected):
    assert error(only, skip, stage) == expected
