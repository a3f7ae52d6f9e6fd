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
argument is an `_Expression` (`values`) whose ``visit`` runs the compiled closure, which is what the
built-ins (``sort_by``, ``max_by``, ``min_by``, ``map``) expect.

`compile_ast` returns ``None`` for a node type it does not know: the caller then uses the
tree interpreter. Every node type of jmespath 1.1.0 is compiled.

The builders live by what they build: `paths` (navigation) and `logic` (computation); the
JMESPath value semantics they share are in `values`.

Speed-up: must agree with ``jmespath``'s ``TreeInterpreter``;
``tests/policy/test_jmespath_closures.py`` runs the JMESPath compliance suite (and generated
expressions) through both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jmespath.functions import Functions

from wfgy_rules.policy.jmespath_closures import logic, paths
from wfgy_rules.policy.jmespath_closures.values import Evaluator, Unsupported


def compile_ast(ast: dict, functions: Functions) -> Evaluator | None:
    """``fn(value)`` with the tree interpreter's semantics for ``ast``, or ``None`` if not compiled."""
    try:
        return Compiler(functions).build(ast)
    except (Unsupported, RecursionError, KeyError, TypeError):  # the last two: not a jmespath AST
        return None


class Compiler:
    def __init__(self, functions: Functions):
        self.functions = functions

    def build(self, node: Any) -> Evaluator:
        if not isinstance(node, dict):
            raise Unsupported(repr(node))
        builder = _BUILDERS.get(node.get("type"))
        if builder is None:
            raise Unsupported(node.get("type"))
        return builder(node, self)


_BUILDERS: dict[str, Callable[[dict, Compiler], Evaluator]] = {
    "field": paths.build_field,
    "subexpression": paths.build_sequence,
    "index_expression": paths.build_sequence,
    "pipe": paths.build_sequence,
    "index": paths.build_index,
    "slice": paths.build_slice,
    "projection": paths.build_projection,
    "value_projection": paths.build_value_projection,
    "filter_projection": paths.build_filter_projection,
    "flatten": paths.build_flatten,
    "comparator": logic.build_comparator,
    "and_expression": logic.build_and,
    "or_expression": logic.build_or,
    "not_expression": logic.build_not,
    "multi_select_list": logic.build_multi_select_list,
    "multi_select_dict": logic.build_multi_select_dict,
    "key_val_pair": logic.build_key_val_pair,
    "literal": paths.build_literal,
    "current": paths.build_identity,
    "identity": paths.build_identity,
    "function_expression": logic.build_function,
    "expref": logic.build_expref,
}
