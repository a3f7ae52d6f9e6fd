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

A path that is not a fact is not a ``null`` answer: ``runtime.packges`` (or
``runtime.packages.vlm`` when only torch was gathered) exits 2 with "runtime.packges is not a
fact (did you mean 'runtime.packages'?)" and the keys there are. A path whose value in the
facts is ``null`` is a fact, and prints ``null``. Paths are checked from the top of the facts
down to the first list or scalar; what a projection or filter reads is not.

Exit 0 printed · 1 the expression failed on these facts (an ``error`` in a rule) · 2
invalid expression, unknown name, rule or path, bad input.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    for path in _paths(expr.ast):
        if path[0] in context:
            _check_path(path, context, rule_id)
    try:
        value = expr.search(context)
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return ExitCode.PASSED


# Children read from the value at hand only in first place: the rest read what the first gave.
_FIRST_ONLY = frozenset({"subexpression", "index_expression", "projection", "value_projection", "filter_projection", "pipe", "flatten"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHOWN_KEYS = 12


def _paths(node: dict, at_top: bool = True) -> Iterator[tuple[str, ...]]:
    """The field paths of an expression that start at the top of the facts (``a.b[0].c``
    gives ``(a, b)``: past an index the value is a list element)."""
    chain = _chain(node) if at_top else None
    if chain:
        yield chain
        return
    for position, child in enumerate(node.get("children", [])):
        if isinstance(child, dict):  # slice bounds are plain ints
            first = node["type"] != "expref" and (node["type"] not in _FIRST_ONLY or position == 0)
            yield from _paths(child, at_top and first)


def _chain(node: dict) -> tuple[str, ...] | None:
    kind = node["type"]
    if kind == "field":
        return (node["value"],)
    if kind == "index_expression":
        return _chain(node["children"][0])
    if kind != "subexpression":
        return None
    chain = _chain(node["children"][0])
    if chain is None:
        return None
    for child in node["children"][1:]:
        if child["type"] == "field":
            chain += (child["value"],)
            continue
        if child["type"] == "index_expression" and child["children"][0]["type"] == "field":
            chain += (child["children"][0]["value"],)
        break
    return chain


def _check_path(path: tuple[str, ...], context: dict[str, Any], rule_id: str | None) -> None:
    """`UsageError` when ``path`` leads to a key the facts (or params) do not have."""
    value: Any = context
    for depth, key in enumerate(path):
        if not isinstance(value, dict):
            return  # a list or a scalar: JMESPath's null, not for us to judge
        if key not in value:
            parent = path[:depth]
            shown = _shown(path[:depth + 1])
            keys = sorted(value)
            what = "fact" if path[0] != "params" else ("param of " + rule_id if rule_id else "param (give --rule ID for a rule's params)")
            there = (f"; {_shown(parent)} has: {', '.join(keys[:_SHOWN_KEYS])}{' …' if len(keys) > _SHOWN_KEYS else ''}"
                     if keys else f"; {_shown(parent)} is empty")
            raise UsageError(f"{shown} is not a {what}{did_you_mean(shown, (_shown((*parent, k)) for k in keys))}{there}")
        value = value[key]


def _shown(path: tuple[str, ...]) -> str:
    return ".".join(key if _IDENTIFIER.fullmatch(key) else json.dumps(key) for key in path)
