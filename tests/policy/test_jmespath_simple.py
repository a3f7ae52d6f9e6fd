"""The direct parser of common shapes (`wfgy_rules.policy.jmespath_simple`) against
``jmespath.compile``: wherever it answers, the very AST jmespath builds (equal, and with the
same key order, as the policy cache stores it); every syntax error left to jmespath."""

from __future__ import annotations

import json

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jmespath.parser import Parser

from tests.policy.test_jmespath_tokens import ODD, _suite_expressions, policy_expressions
from wfgy_rules.policy.jmespath_simple import parse_simple

pytestmark = pytest.mark.filterwarnings("ignore:deprecated string literal syntax:PendingDeprecationWarning")

SHAPES = [
    "a", "a.b.c", "a . b", "a.b ", " a.b\t\n", "!a", "!a.b", "!a.b.c", "!!a.b", "!(a.b)", "(a.b)", "((a))", "(a).b", "(a.b).c",
    "a.f(b)", "a.b.f(c)", "a.b.f(c).d", "f(a)", "f(a, b)", "f(a b)", "f(a,)", "f()", "f(,)", "f(a", "(f)(a)", "f(a)(b)", "f(g(a), `1`)",
    "a == b", "a == b == c", "a < b < c", "a && b || c", "a || b && c", "a && (b || c)", "!a == b", "!a && b", "a != `null`",
    "a == `true`", "a == `false`", "a == `0`", "a == `007`", "a == `1.5`", "a == `-1`", "a == `1e3`", "a == ` 1 `", "a == `\"s\"`",
    "a == `[1, 2]`", "a == `{\"k\": [true]}`", "a == `x`", "a == ``", "a == `²`", "a == '2.1'", "a == ''", "a == 'x y'",
    "values(a)[?b > `1`]", "length(values(a)[?b > `1`]) > `0`", "a[?b]", "a[?b] || c", "a[?b].c", "a[?b][?c]", "a[?b]c",
    "a[?b] == `1`", "!a[?b]", "a.b[?c == 'x']", "a[?f(b)]", "a[?b", "a[?]", "a &&", "&& a", "a ==", "a !", "a ! b", "a b",
    "a.", "a..b", ".a", "a.1", "a.\"b\"", "f(a).b", "`1`", "'x'", "`1`.a", "'x'(a)", "`1`(a)",
]


def reference(text: str):
    Parser._CACHE.clear()
    try:
        return jmespath.compile(text).parsed
    except jmespath.exceptions.JMESPathError:
        return None


def agree(text: str) -> bool:
    """The fast parser's AST is jmespath's (keys in order too); True if it answered."""
    ast = parse_simple(text)
    if ast is None:
        return False
    expected = reference(text)
    assert ast == expected, text
    assert json.dumps(ast) == json.dumps(expected), text
    return True


@pytest.mark.parametrize("text", SHAPES + ODD)
def test_agrees_with_jmespath_on_the_shapes_it_reads_and_odd_text(text):
    agree(text)


def test_reads_the_common_shapes():
    answered = [text for text in SHAPES if agree(text)]
    assert {"a.b.c", "!a.b", "!a.b.c", "a.f(b)", "a.b.f(c)", "f(a b)", "a && b || c", "a == `1e3`", "length(values(a)[?b > `1`]) > `0`"} <= set(answered)
    assert not {"(a.b).c", "a == `x`", "a[?b].c", "a[?b", "a b", "a.\"b\"", "f(a", "a ! b"} & set(answered)  # jmespath decides these


def test_agrees_with_jmespath_on_the_compliance_suite_and_reads_every_benchmark_expression():
    for text in _suite_expressions():
        agree(text)
    assert all(agree(text) for text in policy_expressions(600))


FRAGMENTS = ["a", "b.c", "f", "d.e.g", " ", ".", "(", ")", ",", "!", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "[?", "]",
             "`1`", "`true`", "`[1]`", "`x`", "'s'", "''", "[", "|", "@", "\"k\"", "1"]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12))
def test_agrees_with_jmespath_on_generated_text(parts):
    agree("".join(parts))
