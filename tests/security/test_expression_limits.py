"""One expression cannot crash the tool: ``query`` and the policy loader apply the same limits
(``MAX_EXPRESSION_CHARS``, ``MAX_EXPRESSION_DEPTH`` in ``wfgy_rules/policy/expressions.py``),
and an expression past them is invalid input (exit 2, one line), never an internal error."""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers import TEAM_POLICY, run_cli
from wfgy_rules.policy.expressions import MAX_EXPRESSION_CHARS, MAX_EXPRESSION_DEPTH

TOO_DEEP = f"expression nests deeper than {MAX_EXPRESSION_DEPTH} levels (parentheses, brackets, operators, pipes, !)"
HOSTILE = {
    "parentheses": ("(" * 3000 + "file.serving" + ")" * 3000, TOO_DEEP),
    "brackets": ("[" * 3000 + "file.serving" + "]" * 3000, TOO_DEEP),
    "nots": ("!" * 4000 + "file.serving", TOO_DEEP),
    "pipes": (" | ".join(["file.serving"] * 600), TOO_DEEP),
    "projections": ("file.serving" + "[*].a" * 1500, TOO_DEEP),
    "a nested literal": ("`" + "[" * 3000 + "]" * 3000 + "`", TOO_DEEP),
    "a long one": ("file.serving" + " || file.serving" * 1000, f"characters is over the {MAX_EXPRESSION_CHARS}-character limit"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_query_refuses_a_hostile_expression_as_the_policy_loader_does(project, name):
    expression, message = HOSTILE[name]
    started = time.monotonic()
    done = run_cli("query", expression, cwd=project)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and done.stderr.startswith("error: expression ") and message in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    (project / "team.yaml").write_text(TEAM_POLICY.replace('"file.serving.max_model_len <= params.context"', json.dumps(expression)))
    done = run_cli("validate", cwd=project)
    assert done.returncode == 2, done.stderr
    assert "team.yaml:10:13: rules[0].assert: expression " in done.stderr and message in done.stderr
    assert time.monotonic() - started < 20


def test_an_expression_within_the_limits_still_answers(project):
    nots = MAX_EXPRESSION_DEPTH - 3  # and the field chain's two levels
    done = run_cli("query", "!" * nots + "(file.serving.max_model_len)", cwd=project)
    assert (done.returncode, done.stdout) == (0, "false\n" if nots % 2 else "true\n")
    piped = " | ".join(["file.serving"] + ["@"] * (MAX_EXPRESSION_DEPTH - 3))
    assert json.loads(run_cli("query", piped, cwd=project).stdout) == {"max_model_len": 2048}
