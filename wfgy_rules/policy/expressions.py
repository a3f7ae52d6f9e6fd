"""JMESPath expressions and message templates, compiled once and checked at load time.

An `Expr` knows the top-level names it reads and the functions it calls, so the compiler
can reject ``modle_card.x`` (a name no provider gives) and ``verison_cmp(...)`` (an unknown
function) before anything runs. Evaluation errors (a type error in a function, a
non-version) surface as `EvaluationError`, which the engine turns into an ``error`` result.

One expression is at most ``MAX_EXPRESSION_CHARS`` characters and nests at most
``MAX_EXPRESSION_DEPTH`` levels (parentheses and brackets; each operator, pipe, ``!`` and
projection; a literal's own nesting): past that it is an `ExpressionSyntaxError`, in a
policy (exit 2, ``FILE:LINE``) and in ``query`` alike, before anything recurses over it.

The AST is compiled once more, into nested closures (`wfgy_rules.policy.jmespath_closures`), so that a
search is one plain call; an AST the closure compiler does not accept runs on jmespath's
tree interpreter, with the same results.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from jmespath import exceptions as jp_errors
from jmespath.visitor import Options, TreeInterpreter

from wfgy_rules.errors import EvaluationError
from wfgy_rules.jsonvalues import MAX_RENDERED_VALUES, a_type_name, within
from wfgy_rules.policy import jmespath_tokens
from wfgy_rules.policy.functions import FUNCTIONS
from wfgy_rules.policy.jmespath_closures import compile_ast

_INTERPRETER = TreeInterpreter(Options(custom_functions=FUNCTIONS))
# Children evaluated against the *current* value (not a projected element or a piped result).
_LEFT_ONLY = frozenset({"subexpression", "index_expression", "projection", "value_projection", "filter_projection", "pipe", "flatten"})


# Limits on one expression, in a policy and in ``query`` alike: checked before anything walks
# the expression recursively, so a hostile one is invalid input (exit 2), never a crash.
MAX_EXPRESSION_CHARS = 10_000
MAX_EXPRESSION_DEPTH = 100  # nesting levels: brackets, and each operator, pipe, ``!`` or projection
_TOO_DEEP = f"expression nests deeper than {MAX_EXPRESSION_DEPTH} levels (parentheses, brackets, operators, pipes, !)"
_QUOTED = re.compile(r"`(?:[^`\\]|\\.)*`|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.S)
_BRACKETS = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}


class ExpressionSyntaxError(ValueError):
    """Raised by `compile_expr` for text that is not JMESPath."""


@dataclass(frozen=True)
class Expr:
    """A compiled JMESPath expression."""

    text: str
    ast: dict = field(repr=False, compare=False)
    roots: frozenset[str] = field(compare=False)
    functions: frozenset[str] = field(compare=False)
    # ``fn(data)``: the compiled closure, or the tree interpreter bound to ``ast``.
    evaluate: Callable[[Any], Any] = field(repr=False, compare=False)

    def search(self, data: Any) -> Any:
        """The expression's value over ``data``; `EvaluationError` when it cannot be computed."""
        try:
            return self.evaluate(data)
        except EvaluationError:
            raise
        except jp_errors.JMESPathError as exc:
            raise EvaluationError(f"{self.text}: {_one_line(exc)}") from None
        except (TypeError, ValueError, AttributeError, ArithmeticError, RecursionError) as exc:
            raise EvaluationError(f"{self.text}: {type(exc).__name__}: {_one_line(exc)}") from None

    def sides(self, data: Any) -> tuple[str, Any, Any] | None:
        """For a top-level comparison such as ``a == b``: the operator and both values."""
        if self.ast["type"] != "comparator":
            return None
        try:
            left = _INTERPRETER.visit(self.ast["children"][0], data)
            right = _INTERPRETER.visit(self.ast["children"][1], data)
        except (jp_errors.JMESPathError, EvaluationError, TypeError, ValueError, ArithmeticError, RecursionError):
            return None
        return _COMPARATOR_SYMBOLS[self.ast["value"]], left, right


_COMPARATOR_SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def compile_expr(text: str, asts: dict[str, dict] | None = None) -> Expr:
    """Parse ``text`` once; `ExpressionSyntaxError` with JMESPath's explanation if invalid.

    ``asts`` maps expression text to an already parsed AST (the policy cache); parses made
    here are added to it."""
    ast = asts.get(text) if asts is not None else None
    if ast is None:
        _check_text(text)
        try:
            ast = jmespath_tokens.parse(text).parsed
        except jp_errors.JMESPathError as exc:
            raise ExpressionSyntaxError(f"invalid JMESPath {text!r}: {_one_line(exc)}") from None
        except RecursionError:  # the parser recursed past Python's limit: far past MAX_EXPRESSION_DEPTH
            raise ExpressionSyntaxError(_TOO_DEEP) from None
    _check_depth(ast)
    if asts is not None:
        asts[text] = ast
    roots: set[str] = set()
    names: set[str] = set()
    _walk(ast, roots, names, at_root=True)
    evaluate = compile_ast(ast, FUNCTIONS) or partial(_INTERPRETER.visit, ast)
    return Expr(text, ast, frozenset(roots), frozenset(names), evaluate)


def _check_text(text: str) -> None:
    """The limits seen in the text: its length, and how deep its brackets nest (parentheses
    leave no trace in the AST). Quoted text and literals do not count."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionSyntaxError(f"expression of {len(text)} characters is over the {MAX_EXPRESSION_CHARS}-character limit")
    bare = _QUOTED.sub("", text)
    if sum(bare.count(c) for c in "([{") <= MAX_EXPRESSION_DEPTH:
        return  # the common case: too few brackets to nest too deep
    depth = 0
    for char in bare:
        depth += _BRACKETS.get(char, 0)
        if depth > MAX_EXPRESSION_DEPTH:
            raise ExpressionSyntaxError(_TOO_DEEP)


def _check_depth(ast: dict) -> None:
    """The nesting of the parsed expression, literal values included, without recursion
    (``!`` and pipe chains, projections and operators each add a level)."""
    stack: list[tuple[Any, int, bool]] = [(ast, 1, True)]  # (node or literal value, depth, is an AST node)
    while stack:
        node, depth, is_ast = stack.pop()
        if depth > MAX_EXPRESSION_DEPTH:
            raise ExpressionSyntaxError(_TOO_DEEP)
        if is_ast and node["type"] == "literal":
            stack.append((node["value"], depth + 1, False))
        elif is_ast:
            stack.extend((child, depth + 1, True) for child in node.get("children", ()) if isinstance(child, dict))
        elif isinstance(node, (dict, list)):
            stack.extend((value, depth + 1, False) for value in (node.values() if isinstance(node, dict) else node))


def _walk(node: dict, roots: set[str], functions: set[str], at_root: bool) -> None:
    kind = node["type"]
    if kind == "field":
        if at_root:
            roots.add(node["value"])
        return
    if kind == "function_expression":
        functions.add(node["value"])
    children = node.get("children", [])
    for position, child in enumerate(children):
        if not isinstance(child, dict):
            continue  # slice bounds are plain ints
        if kind == "expref":
            _walk(child, roots, functions, at_root=False)
        elif kind in _LEFT_ONLY and position > 0:
            _walk(child, roots, functions, at_root=False)
        else:
            _walk(child, roots, functions, at_root)


def truthy(value: Any) -> bool:
    """JMESPath truthiness: false for ``false``, ``null``, ``""``, ``[]``, ``{}``; true otherwise (``0`` included)."""
    return not (value is None or value is False or value == "" or value == [] or value == {})


_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)


@dataclass(frozen=True)
class Template:
    """A message with ``{{ expression }}`` placeholders."""

    text: str
    parts: tuple[str | Expr, ...] = field(compare=False, repr=False)

    @property
    def expressions(self) -> list[Expr]:
        return [p for p in self.parts if isinstance(p, Expr)]

    def render(self, data: Any) -> str:
        """The message with each placeholder replaced by its value (strings as they are,
        other values as compact JSON); a placeholder that fails renders as ``<error: …>``."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            try:
                out.append(render_value(part.search(data)))
            except EvaluationError as exc:
                out.append(f"<error: {exc}>")
        return "".join(out)


def compile_template(text: str, asts: dict[str, dict] | None = None) -> Template:
    """Split ``text`` into literal parts and compiled expressions (``asts`` as for `compile_expr`)."""
    parts: list[str | Expr] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(compile_expr(match.group(1).strip(), asts))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return Template(text, tuple(parts))


def render_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if not within(value, MAX_RENDERED_VALUES):
        raise EvaluationError(f"{a_type_name(value)} of more than {MAX_RENDERED_VALUES} values is too large to put in a message")
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "), default=str)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
