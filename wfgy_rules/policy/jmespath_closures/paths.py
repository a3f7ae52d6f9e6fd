"""Closures for navigating a value: fields, chains of them, indexes, slices, projections,
flattening, literals and the current node."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wfgy_rules.errors import EvaluationError
from wfgy_rules.jsonvalues import MAX_LIST
from wfgy_rules.policy.jmespath_closures.values import Evaluator, get, truthy

if TYPE_CHECKING:
    from wfgy_rules.policy.jmespath_closures import Compiler


def _identity(value: Any) -> Any:
    return value


def build_identity(node: dict, c: Compiler) -> Evaluator:
    return _identity


def build_literal(node: dict, c: Compiler) -> Evaluator:
    constant = node["value"]
    return lambda value: constant


def build_field(node: dict, c: Compiler) -> Evaluator:
    return _field(node["value"])


def _field(name: str) -> Evaluator:
    def field(value):
        if value.__class__ is dict:
            return value.get(name)
        return get(value, name)

    return field


def _field_chain(names: tuple[str, ...]) -> Evaluator:
    """``a.b.c.d``: one loop of ``dict.get``; ``null`` as soon as a value is ``null``."""
    if len(names) == 1:
        return _field(names[0])

    def field_chain(value):
        for name in names:
            if value.__class__ is dict:
                value = value.get(name)
            elif value is None:
                return None
            else:
                value = get(value, name)
        return value

    return field_chain


def _chain(steps: list[Evaluator]) -> Evaluator:
    if len(steps) == 1:
        return steps[0]
    if len(steps) == 2:
        first, second = steps
        return lambda value: second(first(value))
    steps_ = tuple(steps)

    def chain(value):
        for step in steps_:
            value = step(value)
        return value

    return chain


_SEQUENCES = frozenset({"subexpression", "index_expression", "pipe"})


def _sequence_children(node: dict) -> list[dict]:
    """The steps of nested subexpressions, index expressions and pipes, in order: they all
    apply each child to the previous child's result."""
    steps = []
    for child in node["children"]:
        if child["type"] in _SEQUENCES:
            steps.extend(_sequence_children(child))
        else:
            steps.append(child)
    return steps


def build_sequence(node: dict, c: Compiler) -> Evaluator:
    """subexpression, index_expression and pipe: each child applied to the previous result.
    Runs of plain fields become one `_field_chain`."""
    steps: list[Evaluator] = []
    names: list[str] = []
    for child in _sequence_children(node):
        if child["type"] == "field":
            names.append(child["value"])
            continue
        if child["type"] in ("identity", "current"):
            continue  # ``[0]`` is index_expression(identity, index): nothing to do
        if names:
            steps.append(_field_chain(tuple(names)))
            names = []
        steps.append(c.build(child))
    if names:
        steps.append(_field_chain(tuple(names)))
    return _chain(steps) if steps else _identity


def build_index(node: dict, c: Compiler) -> Evaluator:
    position = node["value"]

    def index(value):
        if not isinstance(value, list):
            return None
        try:
            return value[position]
        except IndexError:
            return None

    return index


def build_slice(node: dict, c: Compiler) -> Evaluator:
    bounds = slice(*node["children"])

    def slice_(value):
        if not isinstance(value, list):
            return None
        return value[bounds]

    return slice_


def build_projection(node: dict, c: Compiler) -> Evaluator:
    left_node, right_node = node["children"]
    left = c.build(left_node)
    if right_node["type"] == "identity":

        def projection_identity(value):
            base = left(value)
            if not isinstance(base, list):
                return None
            return [element for element in base if element is not None]

        return projection_identity
    right = c.build(right_node)

    def projection(value):
        base = left(value)
        if not isinstance(base, list):
            return None
        return [result for element in base if (result := right(element)) is not None]

    return projection


def build_value_projection(node: dict, c: Compiler) -> Evaluator:
    left, right = (c.build(child) for child in node["children"])

    def value_projection(value):
        base = left(value)
        if base.__class__ is dict:
            base = base.values()
        else:
            try:
                base = base.values()
            except AttributeError:
                return None
        return [result for element in base if (result := right(element)) is not None]

    return value_projection


def build_filter_projection(node: dict, c: Compiler) -> Evaluator:
    left, right, condition = (c.build(child) for child in node["children"])

    def filter_projection(value):
        base = left(value)
        if not isinstance(base, list):
            return None
        collected = []
        for element in base:
            matched = condition(element)
            if matched is True or (matched is not False and truthy(matched)):
                result = right(element)
                if result is not None:
                    collected.append(result)
        return collected

    return filter_projection


def build_flatten(node: dict, c: Compiler) -> Evaluator:
    child = c.build(node["children"][0])

    def flatten(value):
        base = child(value)
        if not isinstance(base, list):
            return None
        merged = []
        for element in base:
            if isinstance(element, list):
                merged.extend(element)
                if len(merged) > MAX_LIST:
                    raise EvaluationError(f"flattening built a list of more than {MAX_LIST} elements")
            else:
                merged.append(element)
        return merged

    return flatten
