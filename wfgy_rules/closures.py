"""Compile a JMESPath AST into nested Python closures, once, so evaluation is one plain call.

jmespath's `TreeInterpreter` walks the AST dict on every search: a dict lookup and a method
dispatch per node. `compile_ast` does that walk once and returns ``fn(value)``; evaluating is
then just calling closures. The semantics are exactly the interpreter's (jmespath 1.1.0
``visitor.py``), quirks included:

* a field of anything that is not an object is ``null``; projections drop ``null`` results;
* ``==`` is Python's ``==`` except that a boolean never equals a number (``true != `1```);
* ``<``, ``<=``, ``>``, ``>=`` give ``null`` unless both sides are numbers or strings (a
  number against a string raises `TypeError`, as in the interpreter);
* ``||``, ``&&``, filters: false, null, ``""``, ``[]`` and ``{}`` are false, ``0`` is true;
  ``!`` of any number is false;
* multi-selects of ``null`` are ``null``; slices and negative indexes as in Python lists.

Function calls go through the given `jmespath.functions.Functions` object's
``call_function`` (it checks arity and types and raises the library's errors); an ``&expr``
argument is an `_Expression` whose ``visit`` runs the compiled closure, which is what the
built-ins (``sort_by``, ``max_by``, ``min_by``, ``map``) expect.

`compile_ast` returns ``None`` for a node type it does not know: the caller then uses the
tree interpreter. Every node type of jmespath 1.1.0 is compiled.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from numbers import Number
from typing import Any

from jmespath.functions import Functions
from jmespath.visitor import Options, TreeInterpreter

Evaluator = Callable[[Any], Any]


def compile_ast(ast: dict, functions: Functions) -> Evaluator | None:
    """``fn(value)`` with the tree interpreter's semantics for ``ast``, or ``None`` if not compiled."""
    try:
        return _Compiler(functions).build(ast)
    except (_Unsupported, RecursionError, KeyError, TypeError):  # the last two: not a jmespath AST
        return None


class _Unsupported(Exception):
    """A node this module does not compile."""


class _Compiler:
    def __init__(self, functions: Functions):
        self.functions = functions

    def build(self, node: Any) -> Evaluator:
        if not isinstance(node, dict):
            raise _Unsupported(repr(node))
        builder = _BUILDERS.get(node.get("type"))
        if builder is None:
            raise _Unsupported(node.get("type"))
        return builder(node, self)


class _Expression:
    """An ``&expr`` argument. Named like jmespath's class: its function signatures check
    argument types by class name (``'_Expression'`` → ``expref``)."""

    __slots__ = ("expression", "_fn", "_functions")

    def __init__(self, expression: dict, fn: Evaluator, functions: Functions):
        self.expression = expression
        self._fn = fn
        self._functions = functions

    def visit(self, node: dict, value: Any) -> Any:
        if node is self.expression:
            return self._fn(value)
        # A custom function visiting some other node: let the interpreter do it.
        return TreeInterpreter(Options(custom_functions=self._functions)).visit(node, value)


# --- JMESPath values ------------------------------------------------------------------------


def _get(value: Any, name: str) -> Any:
    """``visit_field`` for values that are not plain dicts."""
    try:
        return value.get(name)
    except AttributeError:
        return None


def _is_number(value: Any) -> bool:
    """A JSON number: any `Number` but a bool."""
    return value.__class__ is not bool and isinstance(value, Number)


def _truthy(value: Any) -> bool:
    """JMESPath truthiness, with the interpreter's ``_is_false`` checks as the general case."""
    if value is True:
        return True
    if value is False or value is None:
        return False
    cls = value.__class__
    if cls is str or cls is list or cls is dict:
        return bool(value)
    if cls is int or cls is float:
        return True
    return not (value == "" or value == [] or value == {})


def _equals(left: Any, right: Any) -> bool:
    """``==`` except that a boolean and a number are never equal (``0 == false`` in Python)."""
    if left.__class__ is bool:
        if right.__class__ is not bool and isinstance(right, Number):
            return False
    elif right.__class__ is bool and isinstance(left, Number):
        return False
    return left == right


def _comparable(value: Any) -> bool:
    cls = value.__class__
    if cls is int or cls is float or cls is str:
        return True
    return isinstance(value, str) or _is_number(value)


def _plain_equality(literal: Any) -> bool:
    """Whether ``x == literal`` is already `_equals`: no bool/number special case can apply."""
    if literal.__class__ is bool:
        return False
    return not (isinstance(literal, Number) and literal in (0, 1))


# --- builders, one per node type ---------------------------------------------------------------


def _identity(value: Any) -> Any:
    return value


def _build_identity(node: dict, c: _Compiler) -> Evaluator:
    return _identity


def _build_literal(node: dict, c: _Compiler) -> Evaluator:
    constant = node["value"]
    return lambda value: constant


def _build_field(node: dict, c: _Compiler) -> Evaluator:
    return _field(node["value"])


def _field(name: str) -> Evaluator:
    def field(value):
        if value.__class__ is dict:
            return value.get(name)
        return _get(value, name)

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
                value = _get(value, name)
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


def _build_sequence(node: dict, c: _Compiler) -> Evaluator:
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


def _build_index(node: dict, c: _Compiler) -> Evaluator:
    position = node["value"]

    def index(value):
        if not isinstance(value, list):
            return None
        try:
            return value[position]
        except IndexError:
            return None

    return index


def _build_slice(node: dict, c: _Compiler) -> Evaluator:
    bounds = slice(*node["children"])

    def slice_(value):
        if not isinstance(value, list):
            return None
        return value[bounds]

    return slice_


def _build_projection(node: dict, c: _Compiler) -> Evaluator:
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


def _build_value_projection(node: dict, c: _Compiler) -> Evaluator:
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


def _build_filter_projection(node: dict, c: _Compiler) -> Evaluator:
    left, right, condition = (c.build(child) for child in node["children"])

    def filter_projection(value):
        base = left(value)
        if not isinstance(base, list):
            return None
        collected = []
        for element in base:
            matched = condition(element)
            if matched is True or (matched is not False and _truthy(matched)):
                result = right(element)
                if result is not None:
                    collected.append(result)
        return collected

    return filter_projection


def _build_flatten(node: dict, c: _Compiler) -> Evaluator:
    child = c.build(node["children"][0])

    def flatten(value):
        base = child(value)
        if not isinstance(base, list):
            return None
        merged = []
        for element in base:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged

    return flatten


_ORDERING = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


def _build_comparator(node: dict, c: _Compiler) -> Evaluator:
    kind = node["value"]
    left_node, right_node = node["children"]
    left, right = c.build(left_node), c.build(right_node)
    if kind in ("eq", "ne"):
        return _equality(kind == "ne", left_node, right_node, left, right)
    if kind not in _ORDERING:
        raise _Unsupported(f"comparator {kind}")
    return _ordering(_ORDERING[kind], right_node, left, right)


def _equality(negate: bool, left_node: dict, right_node: dict, left: Evaluator, right: Evaluator) -> Evaluator:
    if right_node["type"] == "literal" and _plain_equality(right_node["value"]):
        constant = right_node["value"]
        if negate:
            return lambda value: left(value) != constant
        return lambda value: left(value) == constant
    if left_node["type"] == "literal" and _plain_equality(left_node["value"]):
        constant = left_node["value"]
        if negate:
            return lambda value: constant != right(value)
        return lambda value: constant == right(value)
    if negate:
        return lambda value: not _equals(left(value), right(value))
    return lambda value: _equals(left(value), right(value))


def _ordering(compare: Callable[[Any, Any], bool], right_node: dict, left: Evaluator, right: Evaluator) -> Evaluator:
    if right_node["type"] == "literal" and _comparable(right_node["value"]):
        constant = right_node["value"]

        def ordering_literal(value):
            found = left(value)
            cls = found.__class__
            if cls is int or cls is float or cls is str or _comparable(found):
                return compare(found, constant)
            return None

        return ordering_literal

    def ordering(value):
        a, b = left(value), right(value)
        if _comparable(a) and _comparable(b):
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


def _build_and(node: dict, c: _Compiler) -> Evaluator:
    """The first false operand, else the last one."""
    operands = tuple(c.build(child) for child in _flatten_same(node))

    def and_(value):
        for operand in operands:
            result = operand(value)
            if result is not True and not _truthy(result):
                return result
        return result

    return and_


def _build_or(node: dict, c: _Compiler) -> Evaluator:
    """The first true operand, else the last one."""
    operands = tuple(c.build(child) for child in _flatten_same(node))

    def or_(value):
        for operand in operands:
            result = operand(value)
            if result is True or (result is not False and _truthy(result)):
                return result
        return result

    return or_


def _build_not(node: dict, c: _Compiler) -> Evaluator:
    child = c.build(node["children"][0])

    def not_(value):
        result = child(value)
        if result is True:
            return False
        if result is False or result is None:
            return True
        if _is_number(result) and result == 0:
            return False  # ``!`0``` is false: 0 is true in JMESPath
        return not result

    return not_


def _build_multi_select_list(node: dict, c: _Compiler) -> Evaluator:
    items = tuple(c.build(child) for child in node["children"])

    def multi_select_list(value):
        if value is None:
            return None
        return [item(value) for item in items]

    return multi_select_list


def _build_multi_select_dict(node: dict, c: _Compiler) -> Evaluator:
    pairs = tuple((child["value"], c.build(child)) for child in node["children"])

    def multi_select_dict(value):
        if value is None:
            return None
        return {key: item(value) for key, item in pairs}

    return multi_select_dict


def _build_key_val_pair(node: dict, c: _Compiler) -> Evaluator:
    return c.build(node["children"][0])


def _build_function(node: dict, c: _Compiler) -> Evaluator:
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


def _build_expref(node: dict, c: _Compiler) -> Evaluator:
    expression = node["children"][0]
    reference = _Expression(expression, c.build(expression), c.functions)
    return lambda value: reference


_BUILDERS: dict[str, Callable[[dict, _Compiler], Evaluator]] = {
    "field": _build_field,
    "subexpression": _build_sequence,
    "index_expression": _build_sequence,
    "pipe": _build_sequence,
    "index": _build_index,
    "slice": _build_slice,
    "projection": _build_projection,
    "value_projection": _build_value_projection,
    "filter_projection": _build_filter_projection,
    "flatten": _build_flatten,
    "comparator": _build_comparator,
    "and_expression": _build_and,
    "or_expression": _build_or,
    "not_expression": _build_not,
    "multi_select_list": _build_multi_select_list,
    "multi_select_dict": _build_multi_select_dict,
    "key_val_pair": _build_key_val_pair,
    "literal": _build_literal,
    "current": _build_identity,
    "identity": _build_identity,
    "function_expression": _build_function,
    "expref": _build_expref,
}
