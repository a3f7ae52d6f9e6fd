"""Why a rule was skipped, in words: the first part of its ``when`` that did not hold.

A ``when`` is usually a chain of conditions joined by ``&&``; the first one that is false (in
JMESPath's sense) is the reason, said as a person would::

    when                                                     reason
    kubernetes.configured && …                               kubernetes not configured
    nvml.available && …                                      nvml not available
    model_card.present && model_card.declared.torch != null  model_card.declared has no torch
    contains(['vllm', 'sglang'], serving.launch.engine)      serving.launch has no engine
    serving.launch.tensor_parallel_size > `1`                serving.launch.tensor_parallel_size > `1` is false

A path whose last name is one of `STATES` (``configured``, ``available``, ``present``, …) and is
false reads ``<the rest> not <state>``; a condition that reads a field whose value is null reads
``<object> has no <field>`` (``no <field>`` at the top level); anything else is the condition
itself, ``is false``. Rules skipped for the same
reason share it, so the text report prints one line per reason (``9 rules skipped: kubernetes
not configured``), and `combined` joins the reasons that name fields missing from one object
(``model_card.declared has no torch, vllm``). Only a skipped rule is explained, and only up to
its first false condition.
"""

from __future__ import annotations

from typing import Any

from wfgy_rules.policy.expressions import Expr, truthy
from wfgy_rules.policy.subexpressions import evaluate_node, unparse

STATES = ("configured", "available", "present", "enabled", "found", "readable")
_HAS_NO = " has no "
_PATHS = frozenset({"field", "subexpression", "index_expression"})
_OPERATORS = frozenset({"comparator", "and_expression", "or_expression", "not_expression", "function_expression",
                        "multi_select_list"})


def why_false(when: Expr, data: Any) -> str:
    """The reason ``when`` is false over ``data`` (see the module docstring)."""
    for condition in _conditions(when.ast):
        value, error = evaluate_node(condition, data)
        if error is None and not truthy(value):
            return _reason(condition, value, data)
    return f"{when.text} is false"  # (a condition that errs makes the rule an error, not a skip)


def _conditions(node: dict) -> list[dict]:
    """The conditions of an ``a && b && c`` chain, in order (one for any other expression)."""
    if node["type"] == "and_expression":
        left, right = node["children"]
        return _conditions(left) + _conditions(right)
    return [node]


def _reason(condition: dict, value: Any, data: Any) -> str:
    text = unparse(condition)
    if condition["type"] in _PATHS:
        parent, _, last = text.rpartition(".")
        if parent and last in STATES and value in (False, None):
            return f"{parent} not {last}"
        return _no(text) if value is None else f"{text} is {_shown(value)}"
    missing = _null_path(condition, data)
    if missing is not None:
        return _no(missing)
    return f"{text} is false"


def _no(path: str) -> str:
    parent, _, last = path.rpartition(".")
    return f"{parent}{_HAS_NO}{last}" if parent else f"no {path}"


def combined(groups: dict[str, list[str]]) -> dict[str, list[str]]:
    """``{reason: ids}`` with the reasons ``X has no a`` and ``X has no b`` joined into
    ``X has no a, b`` (their ids together), in the order the reasons first appear."""
    fields: dict[str, list[str]] = {}
    for reason in groups:
        subject, sep, name = reason.partition(_HAS_NO)
        if sep:
            fields.setdefault(subject, []).append(name)
    out: dict[str, list[str]] = {}
    for reason, ids in groups.items():
        subject, sep, _ = reason.partition(_HAS_NO)
        key = f"{subject}{_HAS_NO}{', '.join(fields[subject])}" if sep else reason
        out.setdefault(key, []).extend(ids)
    return out


def _null_path(node: dict, data: Any) -> str | None:
    """The first field path inside ``node`` whose value is null, if any."""
    if node["type"] in _PATHS:
        value, error = evaluate_node(node, data)
        return unparse(node) if error is None and value is None else None
    if node["type"] not in _OPERATORS:
        return None  # a projection, filter or pipe evaluates its parts elsewhere than the root
    for child in node.get("children", []):
        if isinstance(child, dict):
            found = _null_path(child, data)
            if found is not None:
                return found
    return None


def _shown(value: Any) -> str:
    """A falsy value other than null: ``false``, ``""``, or an empty list or object."""
    return "false" if value is False else '""' if value == "" else "empty"
