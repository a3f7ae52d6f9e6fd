"""A direct parser for the JMESPath shapes policies mostly use, building jmespath's own AST.

Field chains (``file.serving.max_model_len``), literals (`` `1` ``, ``'x'``), comparisons,
``&&``, ``||``, ``!``, parentheses, function calls and filters ending their projection
(``values(a)[?b > `1`]``): `parse_simple` reads them with one
regular expression (a whole ``a.b.c`` chain is one token) and a small Pratt parser that
follows jmespath 1.1.0's ``Parser`` rule for rule (binding powers, left-nested ``&&`` / ``||``
/ comparisons, one flat ``subexpression`` per chain, ``!`` binding tighter than ``.`` so
``!a.b`` is ``(!a).b``, ``f(a b)`` read as ``f(a, b)``), so the dicts are the very ones
jmespath builds, keys in the same order. Anything else (brackets, projections, pipes, ``@``,
numbers, quoted identifiers, escapes, a literal that is not plain JSON, every syntax error)
gives ``None``: the caller then parses with jmespath's parser, which builds the AST or raises
its error.

Speed-up: must agree with ``jmespath.compile`` (jmespath 1.1.0: the same AST wherever it
answers); ``tests/policy/test_jmespath_simple.py`` checks that on the compliance suite,
the benchmark's expressions and generated text.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(
    r"""[ \t\n\r]*(
     [A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*
    |\|\||&&|<=|>=|!=|==|\[\?
    |`[^`\\]*`
    |'[^'\\]*'
    |[\s\S])""",
    re.VERBOSE,
)
# Binding powers (jmespath's ``Parser.BINDING_POWER``) of the operator tokens; "" is the end.
_POWER = {"": 0, ")": 0, ",": 0, "||": 2, "&&": 3, "==": 5, "!=": 5, "<": 5, "<=": 5, ">": 5, ">=": 5, "]": 0, "[?": 21,
          "!": 45, "(": 60}
_COMPARATORS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
_IDENTIFIER_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_OPERANDS = _IDENTIFIER_START | {"`", "'"}  # tokens that start an operand: binding power 0
_PROJECTION_STOP = 10  # jmespath's ``Parser._PROJECTION_STOP``
_DOT = 40  # a chain's names after the first, when they must be read one by one
_NOT = 45
_JSON_WORDS = {"true": True, "false": False, "null": None}


class _NotSimple(Exception):
    """The text is outside the shapes read here (or is not JMESPath): jmespath decides."""


def parse_simple(text: str) -> dict | None:
    """jmespath's AST of ``text``, or None where jmespath's parser must read it."""
    parser = _Simple(_TOKEN.findall(text.rstrip(" \t\n\r")))  # trailing whitespace: no token
    try:
        ast = parser.expression(0)
    except _NotSimple:
        return None
    return ast if parser.tokens[parser.index] == "" else None


class _Simple:
    __slots__ = ("index", "tokens")

    def __init__(self, tokens: list[str]):
        tokens.append("")  # the end
        self.tokens = tokens
        self.index = 0

    def expression(self, power: int) -> dict:
        """jmespath's ``Parser._expression``: one operand (its "nud"), then the operators
        binding tighter than ``power`` (their "led"s)."""
        tokens = self.tokens
        token = tokens[self.index]
        first = token[:1]
        if first in _IDENTIFIER_START:
            if "." not in token:
                left = {"type": "field", "children": [], "value": token}
                self.index += 1
            elif power < _DOT and tokens[self.index + 1] != "(":  # the common chain: one flat subexpression
                left = {"type": "subexpression", "children": [{"type": "field", "children": [], "value": name} for name in token.split(".")]}
                self.index += 1
            else:  # the first name alone; the rest stays, as dots, for the operators around
                head, _, rest = token.partition(".")
                left = {"type": "field", "children": [], "value": head}
                tokens[self.index] = "." + rest
        elif len(token) < 2:  # an operator, or a character no token starts with here (a lone quote)
            left = self.prefix(token)
        elif first == "`":
            left = {"type": "literal", "value": _json_literal(token[1:-1]), "children": []}
            self.index += 1
        elif first == "'":
            left = {"type": "literal", "value": token[1:-1], "children": []}
            self.index += 1
        else:
            raise _NotSimple
        return self.operators(left, power)

    def prefix(self, token: str) -> dict:
        """An operand that starts with an operator: ``!a``, ``(a)``."""
        if token == "!":
            self.index += 1
            return {"type": "not_expression", "children": [self.expression(_NOT)]}
        if token == "(":
            self.index += 1
            inner = self.expression(0)
            if self.tokens[self.index] != ")":
                raise _NotSimple
            self.index += 1
            return inner
        raise _NotSimple

    def operators(self, left: dict, power: int) -> dict:
        tokens = self.tokens
        while True:
            token = tokens[self.index]
            bound = _POWER.get(token)
            if bound is None:
                if token[0] == "." and len(token) > 1:
                    bound = _DOT
                elif token[0] in _OPERANDS:
                    bound = 0
                else:
                    raise _NotSimple
            if power >= bound:
                return left
            if token in _COMPARATORS:
                self.index += 1
                left = {"type": "comparator", "children": [left, self.expression(5)], "value": _COMPARATORS[token]}
            elif token == "&&":
                self.index += 1
                left = {"type": "and_expression", "children": [left, self.expression(3)]}
            elif token == "||":
                self.index += 1
                left = {"type": "or_expression", "children": [left, self.expression(2)]}
            elif token == "(":
                left = self.call(left)
            elif token == "[?":
                left = self.filter(left)
            elif token[0] == ".":  # jmespath's ``_token_led_dot`` for the next name of a chain
                head, _, rest = token[1:].partition(".")
                if rest:
                    tokens[self.index] = "." + rest
                else:
                    self.index += 1
                right = self.operators({"type": "field", "children": [], "value": head}, _DOT)
                if left["type"] == "subexpression":
                    left["children"].append(right)
                else:
                    left = {"type": "subexpression", "children": [left, right]}
            else:  # ``!`` has no led: a syntax error
                raise _NotSimple

    def call(self, left: dict) -> dict:
        """jmespath's ``_token_led_lparen``: a function call, arguments up to ``)``."""
        if left["type"] != "field":
            raise _NotSimple
        self.index += 1
        tokens = self.tokens
        args = []
        while tokens[self.index] != ")":
            arg = self.expression(0)
            if tokens[self.index] == ",":
                self.index += 1
            args.append(arg)
        self.index += 1
        return {"type": "function_expression", "children": args, "value": left["value"]}


    def filter(self, left: dict) -> dict:
        """jmespath's ``_token_led_filter``, for a filter that ends its projection (``a[?b > `1`]``
        followed by an operator or the end; anything after it that continues the projection:
        jmespath decides)."""
        self.index += 1
        condition = self.expression(0)
        if self.tokens[self.index] != "]":
            raise _NotSimple
        self.index += 1
        if _POWER.get(self.tokens[self.index], _PROJECTION_STOP) >= _PROJECTION_STOP:
            raise _NotSimple
        return {"type": "filter_projection", "children": [left, {"type": "identity", "children": []}, condition]}


def _json_literal(text: str) -> Any:
    """jmespath's value of a `` `…` `` literal that is plain JSON (anything else: jmespath decides)."""
    if text.isdigit() and text.isascii() and (text[0] != "0" or len(text) == 1):
        return int(text)
    if text in _JSON_WORDS:
        return _JSON_WORDS[text]
    try:
        return json.loads(text)
    except Exception:  # noqa: BLE001 - not plain JSON (a deprecated literal, an error): jmespath's lexer decides
        raise _NotSimple from None
