"""JMESPath parsing with a one-regex tokenizer in front of jmespath's own parser.

jmespath's lexer reads an expression one character at a time through method calls, and its
parser finds each token's handler by name (``getattr``): for a 10,000-rule policy the parse
took longer than everything else of the compile. Here the parser's handlers are looked up
once, and `tokens` splits the text with one regular expression into the very token dicts
jmespath's ``Lexer.tokenize`` yields (types, values, ``start``/``end`` quirks included:
``end`` is a length for quoted tokens, and ``start`` for a one-character ``|``, ``&``,
``<``, ``>``, ``!``). Text it is not sure about (an escape, an unknown or lone character, an
unclosed quote, a literal that is not plain JSON) goes to jmespath's lexer, which raises
the library's errors.

Speed-up: must agree with ``jmespath.compile`` (jmespath 1.1.0: same tokens, same AST, same
errors); ``tests/policy/test_jmespath_tokens.py`` checks that on the compliance suite and
on generated text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jmespath import exceptions
from jmespath.parser import ParsedResult, Parser

from wfgy_rules.policy.jmespath_simple import parse_simple

_TOKEN = re.compile(
    r"""[ \t\n\r]+
    |[A-Za-z_][A-Za-z0-9_]*
    |-?[0-9]+
    |`[^`\\]*`
    |'[^'\\]*'
    |"[^"\\]*"
    |\|\||&&|<=|>=|!=|==|\[\]|\[\?
    |[.*\],:@(){}\[|&<>!]""",
    re.VERBOSE,
)
# A token's type by its first character (identifiers, numbers, quotes, whitespace: below).
_PAIRS = {"||": "or", "&&": "and", "<=": "lte", ">=": "gte", "!=": "ne", "==": "eq"}
_SINGLES = {".": "dot", "*": "star", "]": "rbracket", ",": "comma", ":": "colon", "@": "current", "(": "lparen",
            ")": "rparen", "{": "lbrace", "}": "rbrace"}
_OR_ELSE = {"|": "pipe", "&": "expref", "<": "lt", ">": "gt", "!": "not"}  # jmespath's `_match_or_else`: end == start
_IDENTIFIER_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NUMBER_START = frozenset("-0123456789")
_QUOTES = frozenset("`'\"")
_WHITESPACE = frozenset(" \t\n\r")


def tokens(text: str) -> list[dict[str, Any]] | None:
    """jmespath's tokens of ``text``, or None where jmespath's own lexer must decide."""
    out: list[dict[str, Any]] = []
    append = out.append
    length = len(text)
    start = end = 0
    for value in _TOKEN.findall(text):  # skips what matches no token: caught by the length check below
        start, end = end, end + len(value)
        first = value[0]
        if first in _IDENTIFIER_START:
            append({"type": "unquoted_identifier", "value": value, "start": start, "end": end})
        elif first in _SINGLES:
            append({"type": _SINGLES[first], "value": value, "start": start, "end": end})
        elif first in _WHITESPACE:
            continue
        elif first in _NUMBER_START:
            append({"type": "number", "value": int(value), "start": start, "end": end})
        elif first == "[":
            kind = "flatten" if value == "[]" else "filter" if value == "[?" else "lbracket"
            append({"type": kind, "value": value, "start": start, "end": end})
        elif value in _PAIRS:
            append({"type": _PAIRS[value], "value": value, "start": start, "end": start + 1})
        elif first in _OR_ELSE and len(value) == 1:
            append({"type": _OR_ELSE[first], "value": value, "start": start, "end": start})
        else:  # a quoted token
            try:
                if first == "`":
                    kind, parsed = "literal", json.loads(value[1:-1])
                elif first == "'":
                    kind, parsed = "literal", value[1:-1]
                else:
                    kind, parsed = "quoted_identifier", json.loads(value)
            except Exception:  # noqa: BLE001 - jmespath's lexer decides (a deprecated literal, an error)
                return None
            # ``end`` is the token's length, less one when its closing quote ends the text.
            append({"type": kind, "value": parsed, "start": start, "end": (end if end < length else end - 1) - start})
    if end != length or not length:
        return None
    append({"type": "eof", "value": "", "start": length, "end": length})
    return out


# jmespath's ``Parser`` finds the handler of a token with ``getattr(self, "_token_nud_" + type)``
# per token; the same handlers, looked up once.
_NUD = {name.removeprefix("_token_nud_"): getattr(Parser, name) for name in dir(Parser) if name.startswith("_token_nud_")}
_LED = {name.removeprefix("_token_led_"): getattr(Parser, name) for name in dir(Parser) if name.startswith("_token_led_")}


class _Parser(Parser):
    """jmespath's parser, fed by `tokens` when it can be, with its handlers looked up once."""

    def _expression(self, binding_power: int = 0) -> dict:
        # jmespath 1.1.0 ``Parser._expression`` with its helper calls inlined.
        tokens = self._tokens
        left_token = tokens[self._index]
        self._index += 1
        nud = _NUD.get(left_token["type"])
        left = self._error_nud_token(left_token) if nud is None else nud(self, left_token)
        current_token = tokens[self._index]["type"]
        powers = self.BINDING_POWER
        while binding_power < powers[current_token]:
            led = _LED.get(current_token)
            if led is None:
                self._error_led_token(tokens[self._index])
            else:
                self._index += 1
                left = led(self, left)
                current_token = tokens[self._index]["type"]
        return left

    def _parse(self, expression: str) -> ParsedResult:
        found = tokens(expression)
        if found is None:
            return super()._parse(expression)
        # jmespath 1.1.0 ``Parser._parse``, with the tokens above instead of ``lexer.Lexer()``'s.
        self._tokens = found
        self._index = 0
        parsed = self._expression(binding_power=0)
        if self._current_token() != "eof":
            t = self._lookahead_token(0)
            raise exceptions.ParseError(t["start"], t["value"], t["type"], f"Unexpected token: {t['value']}")
        return ParsedResult(expression, parsed)


def parse(text: str) -> ParsedResult:
    """``jmespath.compile(text)``, faster (the same result or error): the common shapes read
    by `parse_simple`, the rest by jmespath's parser fed by `tokens` (and jmespath's cache)."""
    simple = parse_simple(text)
    if simple is not None:
        return ParsedResult(text, simple)
    return _Parser().parse(text)
