"""What compiled closures share: JMESPath value semantics (truthiness, equality, fields) as
jmespath 1.1.0's ``visitor.py`` defines them, the `_Expression` of ``&expr`` arguments, and
the `Unsupported` signal."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Number
from typing import Any

from jmespath.functions import Functions
from jmespath.visitor import Options, TreeInterpreter

Evaluator = Callable[[Any], Any]


class Unsupported(Exception):
    """A node this module does not compile."""


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


def get(value: Any, name: str) -> Any:
    """``visit_field`` for values that are not plain dicts."""
    try:
        return value.get(name)
    except AttributeError:
        return None


def is_number(value: Any) -> bool:
    """A JSON number: any `Number` but a bool."""
    return value.__class__ is not bool and isinstance(value, Number)


def truthy(value: Any) -> bool:
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


def equals(left: Any, right: Any) -> bool:
    """``==`` except that a boolean and a number are never equal (``0 == false`` in Python)."""
    if left.__class__ is bool:
        if right.__class__ is not bool and isinstance(right, Number):
            return False
    elif right.__class__ is bool and isinstance(left, Number):
        return False
    return left == right


def comparable(value: Any) -> bool:
    cls = value.__class__
    if cls is int or cls is float or cls is str:
        return True
    return isinstance(value, str) or is_number(value)


def plain_equality(literal: Any) -> bool:
    """Whether ``x == literal`` is already `equals`: no bool/number special case can apply."""
    if literal.__class__ is bool:
        return False
    return not (isinstance(literal, Number) and literal in (0, 1))
