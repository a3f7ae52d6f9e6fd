"""Closures that compute: comparisons, ``&&`` / ``||`` / ``!``, multi-selects, function calls
and ``&expr`` references."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wfgy_rules.policy.jmespath_closures.values import (
    Evaluator,
    Unsupported,
    _Expression,
    comparable,
    equals,
    is_number,
    plain_equality,
    truthy,
)

if TYPE_CHECKING:
    from wfgy_rules.policy.jmespath_closures import Compiler


_ORDERING = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


def build_comparator(node: dict, c: Compiler) -> Evaluator:
    kind = node["value"]
    left_node, right_node = node["children"]
    left, right = c.build(left_node), c.build(right_node)
    if kind in ("eq", "ne"):
        return _equality(kind == "ne", left_node, right_node, left, right)
    if kind not in _ORDERING:
        raise Unsupported(f"comparator {kind}")
    return _ordering(_ORDERING[kind], right_node, left, right)


def _equality(negate: bool, left_node: dict, right_node: dict, left: Evaluator, right: Evaluator) -> Evaluator:
    if right_node["type"] == "literal" and plain_equality(right_node["value"]):
        constant = right_node["value"]
        if negate:
            return lambda value: left(value) != constant
        return lambda value: left(value) == constant
    if left_node["type"] == "literal" and plain_equality(left_node["value"]):
        constant = left_node["value"]
        if negate:
            return lambda value: constant != right(value)
        return lambda value: constant == right(value)
    if negate:
        return lambda value: not equals(left(value), right(value))
    return lambda value: equals(left(value), right(value))


def _ordering(compare: Callable[[Any, Any], bool], right_node: dict, left: Evaluator, right: Evaluator) -> Evaluator:
    if right_node["type"] == "literal" and comparable(right_node["value"]):
        constant = right_node["value"]

        def ordering_literal(value):
            found = left(value)
            cls = found.__class__
            if cls is int or cls is float or cls is str or comparable(found):
                return compare(found, constant)
            return None

        return ordering_literal

    def ordering(value):
        a, b = left(value), right(value)
        if comparable(a) and comparable(b):
            return compare(a, b)
        return None

    return ordering


def _flatten_same(node: dict) -> list[dict]:
    """The operands of ``a && b && c`` (any nesting of one node type), left to right."""
    operands = []
    for child in node["children"]:
        if child["type"] == node["type"]:
            operands.extend(_flatten_same(child))
        else:
            operands.append(child)
    return operands


def build_and(node: dict, c: Compiler) -> Evaluator:
    """The first false operand, else the last one."""
    operands = tuple(c.build(child) for child in _flatten_same(node))

    def and_(value):
        for operand in operands:
            result = operand(value)
            if result is not True and not truthy(result):
                return result
        return result

    return and_


def build_or(node: dict, c: Compiler) -> Evaluator:
    """The first true operand, else the last one."""
    operands = tuple(c.build(child) for child in _flatten_same(node))

    def or_(value):
        for operand in operands:
            result = operand(value)
            if result is True or (result is not False and truthy(result)):
                return result
        return result

    return or_


def build_not(node: dict, c: Compiler) -> Evaluator:
    child = c.build(node["children"][0])

    def not_(value):
        result = child(value)
        if result is True:
            return False
        if result is False or result is None:
            return True
        if is_number(result) and result == 0:
            return False  # ``!`0``` is false: 0 is true in JMESPath
        return not result

    return not_


def build_multi_select_list(node: dict, c: Compiler) -> Evaluator:
    items = tuple(c.build(child) for child in node["children"])

    def multi_select_list(value):
        if value is None:
            return None
        return [item(value) for item in items]

    return multi_select_list


def build_multi_select_dict(node: dict, c: Compiler) -> Evaluator:
    pairs = tuple((child["value"], c.build(child)) for child in node["children"])

    def multi_select_dict(value):
        if value is None:
            return None
        return {key: item(value) for key, item in pairs}

    return multi_select_dict


def build_key_val_pair(node: dict, c: Compiler) -> Evaluator:
    return c.build(node["children"][0])


def build_function(node: dict, c: Compiler) -> Evaluator:
    name = node["value"]
    args = tuple(c.build(child) for child in node["children"])
    call = c.functions.call_function
    if len(args) == 1:
        (only,) = args
        return lambda value: call(name, [only(value)])
    if len(args) == 2:
        first, second = args
        return lambda value: call(name, [first(value), second(value)])
    return lambda value: call(name, [arg(value) for arg in args])


def build_expref(node: dict, c: Compiler) -> Evaluator:
    expression = node["children"][0]
    reference = _Expression(expression, c.build(expression), c.functions)
    return lambda value: reference
