"""``wfgy-rules explain RULE_ID``: the rule as loaded, its effective params, and a trace of
its evaluation over ``--facts`` (or over facts gathered now from the providers it reads).

``params`` lists only what the rule reads, with the value this config gives it: each
``params.NAME`` in its ``when``, ``for_each``, ``assert`` and ``message``, and
``ignore_versions`` when it compares with ``version_compatible`` (every rule is handed the
config's ``ignore_versions``; a prompt rule never looks at it, so it is not shown there).
An expression that reads ``params`` whole shows them all.

Every line is escaped as the text report is (`wfgy_rules.reporters.escaping.text`): a title,
a message or a fact value cannot end a line, start one (``::error`` for a CI runner) or send
a terminal escape. A multi-line description is shown as one paragraph; an expression written
over several lines shows its line breaks as ``\\n``."""

from __future__ import annotations

import json
from pathlib import Path

from wfgy_rules.documents.fact_bundles import read_bundles
from wfgy_rules.errors import EvaluationError, UsageError, did_you_mean
from wfgy_rules.jsonvalues import show
from wfgy_rules.model import AllOf, AnyOf, Compare, Not
from wfgy_rules.policy.expressions import _LEFT_ONLY, Expr
from wfgy_rules.policy.operators import OPERATORS
from wfgy_rules.policy.subexpressions import explain, step_lines
from wfgy_rules.reporters.escaping import text as escape
from wfgy_rules.run.engine import evaluate_rule
from wfgy_rules.run.session import gather_now, open_session


def run(rule_id: str, config: str | None, policies: list[str], facts: str | None) -> int:
    session = open_session(config, policies)
    rule = next((r for r in session.all_rules if r.id == rule_id), None)
    if rule is None:
        raise UsageError(f"unknown rule {rule_id!r}{did_you_mean(rule_id, (r.id for r in session.all_rules))}")
    params = _params_read(rule)
    out = [
        f"{rule.id}: {rule.title}",
        f"  policy:    {rule.policy} ({rule.location})",
        f"  severity:  {rule.severity.name}",
        f"  stage:     {rule.stage}",
        f"  action:    {rule.remedy.action}" + (f" (env {dict(rule.remedy.env)})" if rule.remedy.env else ""),
        f"  facts:     {', '.join(rule.facts)}",
        f"  params:    {json.dumps(params, sort_keys=True) if params else 'none read'}",
        f"  enabled:   {str(rule.enabled).lower()}",
    ]
    if rule.description:
        out.append(f"  about:     {' '.join(rule.description.split())}")
    if rule.when is not None:
        out.append(f"  when:      {rule.when.text.strip()}")
    if rule.for_each is not None:
        out.append(f"  for_each:  {rule.for_each.text.strip()}")
    out.append("  assert:")
    out.extend("    " + line for line in _tree(rule.check))
    if rule.remedy.hint:
        out.append(f"  hint:      {rule.remedy.hint}")
    if facts:
        bundles = list(read_bundles(Path(facts)))
    else:
        bundles = [gather_now(session, list(rule.facts))]
    out.append("trace:")
    for bundle in bundles:
        for result in evaluate_rule(rule, bundle):
            label = f"[{result.index}] " if result.index is not None else ""
            target = f"{bundle.target}: " if bundle.target else ""
            out.append(f"  {target}{label}{result.status.value}" + (f": {result.message}" if result.message else ""))
            for e in result.evidence:
                out.append(f"    {e.key} {e.op} → left={json.dumps(e.left)} right={json.dumps(e.right)}")
                out.extend(step_lines(e.values, "      "))
            if result.status.failing and not isinstance(rule.check, Expr):
                out.append("    conditions:")
                out.extend(_conditions(rule, bundle, result.index))
    print("\n".join(map(escape, out)))
    return 0


def _conditions(rule, bundle, index: int | None) -> list[str]:
    """Every condition of the tree with both operands and whether it held (the engine's
    evidence stops at the first failing condition of an ``all``)."""
    context = {name: bundle.facts.get(name) for name in rule.facts}
    context["params"] = rule.params
    if index is not None:
        items = rule.for_each.search(context)
        context.update(item=items[index], index=index)
    return _condition_lines(rule.check, context, rule.params, 3)


def _condition_lines(node, context, params, depth: int) -> list[str]:
    pad = "  " * depth
    if isinstance(node, Expr):
        return step_lines(explain(node.ast, context), pad)
    if isinstance(node, Compare):
        try:
            left = node.key.search(context)
            right = node.value_from.search(context) if node.value_from is not None else node.value
            verdict = "holds" if OPERATORS[node.op](left, right, params) else "fails"
        except EvaluationError as exc:
            return [f"{pad}{node.key.text} {node.op} → error: {exc}"]
        operands = show(left) if node.op in _UNARY else f"{show(left)} vs {show(right)}"
        lines = [f"{pad}{node.key.text} {node.op} → {verdict}: {operands}"]
        steps = explain(node.key.ast, context, include_root=False)
        if node.value_from is not None:
            lines.append(f"{pad}  {node.value_from.text} = {show(right)}")
            steps += explain(node.value_from.ast, context, include_root=False)
        return lines + step_lines(steps, pad + "  ")
    if isinstance(node, (AllOf, AnyOf)):
        lines = [pad + ("all:" if isinstance(node, AllOf) else "any:")]
        for child in node.children:
            lines.extend(_condition_lines(child, context, params, depth + 1))
        return lines
    if isinstance(node, Not):
        return [pad + "not:", *_condition_lines(node.child, context, params, depth + 1)]
    return [pad + repr(node)]


_UNARY = ("exists", "absent", "empty", "not_empty")
# Params an operator reads besides its two operands (`wfgy_rules.policy.operators`).
_OPERATOR_PARAMS = {"version_compatible": ("ignore_versions",)}


def _params_read(rule) -> dict:
    """The rule's params that its expressions and operators read, with their values."""
    names: set[str] = set()
    expressions = [rule.when, rule.for_each, *(rule.message.expressions if rule.message is not None else ())]
    nodes = [rule.check]
    while nodes:
        node = nodes.pop()
        if isinstance(node, Expr):
            expressions.append(node)
        elif isinstance(node, Compare):
            expressions.extend((node.key, node.value_from))
            names.update(_OPERATOR_PARAMS.get(node.op, ()))
        elif isinstance(node, (AllOf, AnyOf)):
            nodes.extend(node.children)
        elif isinstance(node, Not):
            nodes.append(node.child)
    for expr in expressions:
        if expr is not None and _param_names(expr.ast, names, at_root=True):
            return dict(rule.params)  # ``params`` read whole
    return {name: rule.params[name] for name in sorted(names) if name in rule.params}


def _param_names(node: dict, names: set[str], at_root: bool) -> bool:
    """Add to ``names`` each ``params.NAME`` the AST reads from the root; True when it reads
    ``params`` whole (``params``, ``params.*``, ``keys(params)``)."""
    children = [child for child in node.get("children", []) if isinstance(child, dict)]
    if at_root and node["type"] == "field":
        return node["value"] == "params"
    if at_root and node["type"] == "subexpression" and children[0] == {"type": "field", "children": [], "value": "params"}:
        step = children[1]
        while step["type"] in _LEFT_ONLY:  # params.a[0], params.a[*].b: the first step names it
            step = step["children"][0]
        if step["type"] != "field":
            return True
        names.add(step["value"])
        return False
    whole = False
    for position, child in enumerate(children):
        nested = at_root and node["type"] != "expref" and not (node["type"] in _LEFT_ONLY and position > 0)
        whole = _param_names(child, names, nested) or whole
    return whole


def _tree(node, depth: int = 0) -> list[str]:
    pad = "  " * depth
    if isinstance(node, Expr):
        return [pad + node.text.strip()]
    if isinstance(node, Compare):
        right = f"value_from {node.value_from.text}" if node.value_from is not None else f"value {json.dumps(node.value)}"
        return [f"{pad}{node.key.text} {node.op}" + ("" if node.op in _UNARY else f" {right}")]
    if isinstance(node, (AllOf, AnyOf)):
        lines = [pad + ("all:" if isinstance(node, AllOf) else "any:")]
        for child in node.children:
            lines.extend(_tree(child, depth + 1))
        return lines
    if isinstance(node, Not):
        return [pad + "not:", *_tree(node.child, depth + 1)]
    return [pad + repr(node)]

