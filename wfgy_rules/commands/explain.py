"""``wfgy-rules explain RULE_ID``: the rule as loaded, its effective params, and a trace of
its evaluation over ``--facts`` (or over facts gathered now from the providers it reads)."""

from __future__ import annotations

import json
from pathlib import Path

from wfgy_rules.documents.fact_bundles import read_bundles
from wfgy_rules.errors import UsageError, did_you_mean
from wfgy_rules.model import AllOf, AnyOf, Compare, Not
from wfgy_rules.policy.expressions import Expr
from wfgy_rules.run.engine import evaluate_rule
from wfgy_rules.run.session import gather_now, open_session


def run(rule_id: str, config: str | None, policies: list[str], facts: str | None) -> int:
    session = open_session(config, policies)
    rule = next((r for r in session.all_rules if r.id == rule_id), None)
    if rule is None:
        raise UsageError(f"unknown rule {rule_id!r}{did_you_mean(rule_id, (r.id for r in session.all_rules))}")
    out = [
        f"{rule.id}: {rule.title}",
        f"  policy:    {rule.policy} ({rule.location})",
        f"  severity:  {rule.severity.name}",
        f"  stage:     {rule.stage}",
        f"  action:    {rule.remedy.action}" + (f" (env {dict(rule.remedy.env)})" if rule.remedy.env else ""),
        f"  facts:     {', '.join(rule.facts)}",
        f"  params:    {json.dumps(rule.params, sort_keys=True)}",
        f"  enabled:   {str(rule.enabled).lower()}",
    ]
    if rule.description:
        out.append(f"  about:     {rule.description.strip()}")
    if rule.when is not None:
        out.append(f"  when:      {rule.when.text}")
    if rule.for_each is not None:
        out.append(f"  for_each:  {rule.for_each.text}")
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
    print("\n".join(out))
    return 0


def _tree(node, depth: int = 0) -> list[str]:
    pad = "  " * depth
    if isinstance(node, Expr):
        return [pad + node.text]
    if isinstance(node, Compare):
        right = f"value_from {node.value_from.text}" if node.value_from is not None else f"value {json.dumps(node.value)}"
        return [f"{pad}{node.key.text} {node.op}" + ("" if node.op in ("exists", "absent", "empty", "not_empty") else f" {right}")]
    if isinstance(node, (AllOf, AnyOf)):
        lines = [pad + ("all:" if isinstance(node, AllOf) else "any:")]
        for child in node.children:
            lines.extend(_tree(child, depth + 1))
        return lines
    if isinstance(node, Not):
        return [pad + "not:", *_tree(node.child, depth + 1)]
    return [pad + repr(node)]

