"""``wfgy-rules query EXPR``: the value of a JMESPath expression over the facts, as JSON.

Try an expression before putting it in a policy (as Kyverno's ``jp`` and conftest's
``parse`` let you). The evaluation context is the one rules see: the bundle's provider keys
(``--facts FILE``, or the providers the expression names, gathered now; for ``@``
every provider the policies read) plus ``params``
(with ``--rule ID``: that rule's effective params, config overrides included). Custom
functions (``version_drift``, ``regex_match`` …) work as in policies; facts never hold a
secret value, so neither can the answer.

An expression has the limits it has in a policy (`wfgy_rules.policy.expressions`): at most
10,000 characters and 100 levels of nesting (parentheses, brackets, operators, pipes, ``!``);
past them it is an invalid expression.

Exit 0 printed · 1 the expression failed on these facts (an ``error`` in a rule) · 2
invalid expression, unknown name or rule, bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wfgy_rules.documents.fact_bundles import read_bundles
from wfgy_rules.errors import EvaluationError, Problem, UsageError, did_you_mean
from wfgy_rules.exit_codes import ExitCode
from wfgy_rules.policy.expressions import ExpressionSyntaxError, compile_expr
from wfgy_rules.providers import registry
from wfgy_rules.run.session import gather_now, open_session


def run(expression: str, config: str | None, facts: str | None, rule_id: str | None) -> int:
    try:
        expr = compile_expr(expression)
    except ExpressionSyntaxError as exc:
        raise UsageError(str(exc)) from None
    session = open_session(config)
    params: dict = {}
    if rule_id is not None:
        rule = next((r for r in session.all_rules if r.id == rule_id), None)
        if rule is None:
            raise UsageError(f"unknown rule {rule_id!r}{did_you_mean(rule_id, (r.id for r in session.all_rules))}")
        params = rule.params
    if facts:
        if not Path(facts).is_file():
            raise UsageError(f"{facts}: no such file", [Problem(facts, "no such fact bundle file")])
        bundle = next(read_bundles(Path(facts)))
        known = set(bundle.facts) | set(bundle.errors)
    else:
        known = registry.names()
    unknown = sorted(expr.roots - known - {"params", "null"})
    if unknown:
        raise UsageError(f"{expression!r} reads {', '.join(unknown)}, which is not a provider"
                         f"{did_you_mean(unknown[0], known | {'params'})}; known: {', '.join(sorted(known | {'params'}))}")
    if not facts:
        whole = "@" in expression and not expr.roots  # `@` alone: every provider the policies read
        bundle = gather_now(session, session.providers if whole else sorted(expr.roots & known))
    for name in sorted(expr.roots & set(bundle.errors)):
        print(f"wfgy-rules: warning: {bundle.errors[name]}", file=sys.stderr)
    context = {**bundle.facts, "params": params}
    try:
        value = expr.search(context)
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return ExitCode.PASSED
