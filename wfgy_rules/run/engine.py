"""evaluate(rules, bundle) → results. No I/O; one clock: each rule's time budget.

Per rule: disabled → ``skip``; a provider it reads failed or is missing from the bundle →
``error``; ``when`` falsy → ``skip`` (with its reason in words, the first condition of the
``when`` that did not hold: `wfgy_rules.policy.preconditions`); then ``assert`` is evaluated once, or once per
``for_each`` element (one ``fail`` result per failing element, or a single ``pass``).
Any evaluation problem (a type mismatch, a non-version, an expression error, a value too
large to build or show, a rule past its time budget) is an ``error`` result for that rule
only: it fails closed and never stops the run. No I/O and no environment, but one clock: the
time budget per rule.
"""

from __future__ import annotations

from typing import Any

from wfgy_rules.errors import EvaluationError
from wfgy_rules.jsonvalues import show
from wfgy_rules.model import (
    AllOf,
    AnyOf,
    Bundle,
    Compare,
    Evidence,
    Not,
    Result,
    Rule,
    SourceLocation,
    Status,
)
from wfgy_rules.policy.deadlines import TimeUp, Watch, rule_seconds, watchdog
from wfgy_rules.policy.expressions import Expr, truthy
from wfgy_rules.policy.operators import OPERATORS
from wfgy_rules.policy.preconditions import why_false
from wfgy_rules.policy.subexpressions import Step, explain


_STOPPED = "(WFGY_RULE_TIMEOUT) and was stopped"


def evaluate(rules: list[Rule], bundle: Bundle) -> list[Result]:
    """Every rule's results over one bundle, in report order."""
    results: list[Result] = []
    with watchdog(rule_seconds()) as watch:
        for rule in rules:
            results.extend(evaluate_within(rule, bundle, watch))
    return results


def evaluate_rule(rule: Rule, bundle: Bundle) -> list[Result]:
    """One rule's results over one bundle, within the rule's time budget
    (`wfgy_rules.policy.deadlines.rule_seconds`): past it, one ``error`` result."""
    with watchdog(rule_seconds()) as watch:
        return evaluate_within(rule, bundle, watch)


def evaluate_within(rule: Rule, bundle: Bundle, watch: Watch) -> list[Result]:
    """One rule's results, ``watch`` (re)started for it: inside a `watchdog` block."""
    watch.start()
    try:
        return _evaluate_rule(rule, bundle)
    except TimeUp:
        message = f"evaluation took longer than {watch.seconds:g}s {_STOPPED}"
        return [_result(rule, bundle, Status.error, message)]


def stopped(results: list[Result]) -> bool:
    """Whether these results say the rule ran out of time (a verdict not to reuse)."""
    return any(r.status is Status.error and r.message.endswith(_STOPPED) for r in results)


def _evaluate_rule(rule: Rule, bundle: Bundle) -> list[Result]:
    if not rule.enabled:
        return [_result(rule, bundle, Status.skip, "disabled in config", reason="disabled in config")]
    for name in rule.facts:
        if name in bundle.errors:
            return [_result(rule, bundle, Status.error, bundle.errors[name])]
        if name not in bundle.facts:
            return [_result(rule, bundle, Status.error, f"no facts from provider {name!r} in the bundle")]
    context = {name: bundle.facts[name] for name in rule.facts}
    context["params"] = rule.params
    try:
        if rule.when is not None and not truthy(rule.when.search(context)):
            return [_result(rule, bundle, Status.skip, f"when is false: {rule.when.text}", reason=why_false(rule.when, context))]
        if rule.for_each is None:
            return [_judge(rule, bundle, context, None)]
        items = rule.for_each.search(context)
    except EvaluationError as exc:
        return [_result(rule, bundle, Status.error, str(exc))]
    if not isinstance(items, list):
        return [_result(rule, bundle, Status.error, f"for_each {rule.for_each.text!r} gave {show(items)}, expected a list")]
    outcomes = [_judge(rule, bundle, {**context, "item": item, "index": i}, i) for i, item in enumerate(items)]
    bad = [r for r in outcomes if r.status is not Status.pass_]
    return bad or [_result(rule, bundle, Status.pass_, "")]


def _judge(rule: Rule, bundle: Bundle, context: dict[str, Any], index: int | None) -> Result:
    evidence: list[Evidence] = []
    item = context.get("item")
    location = _location(item) if index is not None else None
    subject = _subject(item) if index is not None else None
    try:
        passed = _check(rule.check, context, rule.params, evidence)
    except EvaluationError as exc:
        return _result(rule, bundle, Status.error, str(exc), index, location, tuple(evidence), subject)
    if passed:
        return _result(rule, bundle, Status.pass_, "", index, location)
    message = rule.message.render(context) if rule.message is not None else rule.title
    return _result(rule, bundle, Status.fail, message, index, location, tuple(evidence), subject)


def _check(node: Any, context: dict[str, Any], params: dict[str, Any], evidence: list[Evidence]) -> bool:
    if isinstance(node, Expr):
        try:
            value = node.search(context)
        except EvaluationError:
            evidence.append(Evidence(node.text, "error", None, None, explain(node.ast, context)))
            raise
        if truthy(value):
            return True
        evidence.append(_expression_evidence(node, context, value))
        return False
    if isinstance(node, Compare):
        try:
            left = node.key.search(context)
            right = node.value_from.search(context) if node.value_from is not None else node.value
        except EvaluationError:
            evidence.append(Evidence(node.key.text, node.op, None, node.value, _compare_values(node, context)))
            raise
        try:
            passed = OPERATORS[node.op](left, right, params)
        except EvaluationError:
            evidence.append(Evidence(node.key.text, node.op, left, right, _compare_values(node, context)))
            raise
        if not passed:
            evidence.append(Evidence(node.key.text, node.op, left, right, _compare_values(node, context)))
        return passed
    if isinstance(node, AllOf):
        return all(_check(child, context, params, evidence) for child in node.children)
    if isinstance(node, AnyOf):
        trail: list[Evidence] = []
        if any(_check(child, context, params, trail) for child in node.children):
            return True
        evidence.extend(trail)
        return False
    if isinstance(node, Not):
        if _check(node.child, context, params, []):
            evidence.append(Evidence(_describe(node.child), "not", True, False, _condition_values(node.child, context)))
            return False
        return True
    raise EvaluationError(f"unknown condition {node!r}")


def _expression_evidence(expr: Expr, context: dict[str, Any], value: Any) -> Evidence:
    """For ``a == b`` style asserts, both sides; otherwise the expression's value. Either way
    with the values of the sub-expressions below (`wfgy_rules.policy.subexpressions`): only
    failing results are explained."""
    sides = expr.sides(context)
    if sides is not None:
        return Evidence(expr.text, *sides, _side_values(expr.ast, context))
    return Evidence(expr.text, "truthy", value, None, explain(expr.ast, context, include_root=False))


def _side_values(ast: dict, context: dict[str, Any]) -> tuple[Step, ...]:
    """What is inside the two sides of a comparison (the sides themselves are left/right)."""
    left, right = ast["children"]
    return explain(left, context, include_root=False) + explain(right, context, include_root=False)


def _compare_values(node: Compare, context: dict[str, Any]) -> tuple[Step, ...]:
    """What is inside ``key`` and ``value_from`` when they are more than a field path."""
    steps = explain(node.key.ast, context, include_root=False)
    if node.value_from is not None:
        steps += explain(node.value_from.ast, context, include_root=False)
    return steps


def _condition_values(node: Any, context: dict[str, Any], depth: int = 0) -> tuple[Step, ...]:
    """Every condition of a tree with both operands (for a ``not`` whose condition held)."""
    if isinstance(node, Expr):
        return explain(node.ast, context, depth)
    if isinstance(node, Compare):
        steps = explain(node.key.ast, context, depth)
        if node.value_from is not None:
            steps += explain(node.value_from.ast, context, depth)
        return steps
    children = node.children if isinstance(node, (AllOf, AnyOf)) else (node.child,) if isinstance(node, Not) else ()
    return tuple(step for child in children for step in _condition_values(child, context, depth))


def _describe(node: Any) -> str:
    if isinstance(node, Expr):
        return node.text
    if isinstance(node, Compare):
        return f"{node.key.text} {node.op}"
    return type(node).__name__.lower()


def _subject(item: Any) -> dict[str, Any]:
    """The scalar fields of a for_each element (``{"value": item}`` for a scalar), for waivers' ``match``."""
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if isinstance(v, (str, int, float, bool))}
    return {"value": item}


def _location(item: Any) -> SourceLocation | None:
    if isinstance(item, dict) and isinstance(item.get("path"), str):
        line, column = item.get("line"), item.get("column")
        return SourceLocation(item["path"], line if isinstance(line, int) else None, column if isinstance(column, int) else None)
    return None


def _result(rule: Rule, bundle: Bundle, status: Status, message: str, index: int | None = None,
            location: SourceLocation | None = None, evidence: tuple[Evidence, ...] = (), subject: dict[str, Any] | None = None,
            reason: str | None = None) -> Result:
    return Result(
        rule_id=rule.id,
        policy=rule.policy,
        title=rule.title,
        severity=rule.severity,
        status=status,
        action=rule.remedy.action,
        message=message,
        hint=rule.remedy.hint,
        location=location,
        evidence=evidence,
        index=index,
        order=rule.order,
        target=bundle.target,
        subject=subject,
        stage=rule.stage,
        reason=reason,
    )
