"""The one-regex tokenizer (`wfgy_rules.policy.jmespath_tokens`) against jmespath's own lexer
and parser: the same token dicts wherever it answers, the same AST or the same error (class,
message, position) for every text."""

from __future__ import annotations

import json

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jmespath import lexer
from jmespath.parser import Parser

from tests.helpers import SHARED_EXTERNAL
from wfgy_rules.policy.jmespath_tokens import parse, tokens

pytestmark = pytest.mark.filterwarnings("ignore:deprecated string literal syntax:PendingDeprecationWarning")

SUITE = SHARED_EXTERNAL / "jmespath-compliance"


def policy_expressions(count: int) -> list[str]:
    """Expressions of the shapes ``bench/run.py`` loads (figure 3)."""
    shapes = ["file.g{i}.k{i}.value > `{i}`", "file.g{i}.k{i}.enabled && file.g{i}.k{i}.name != 'x{i}'",
              "contains(file.g{i}.k{i}.tags, 't{i}')", "length(file.g{i}.k{i}.tags) > `{i}` || file.g{i}.k{i}.value == `{i}`",
              "version_cmp(file.g{i}.k{i}.version, '2.{i}') >= `0`", "length(values(file.g{i})[?value > `{i}`]) > `{i}`"]
    return [shapes[i % len(shapes)].format(i=i) for i in range(count)]

ODD = [
    "", " ", "a", "a.b", "a .b", "\ta\n.\rb", "a1._b", "_", "1", "-1", "-", "--1", "a-1", "1a", "a[0]", "a[-1]", "a[]", "a[ ]",
    "a[?b]", "a[ ?b]", "a[*]", "a.*", "*", "@", "a[0:2:-1]", "a[::]", "a | b", "a||b", "a|", "a && b", "a&b", "&a", "!a", "a != b",
    "a == b", "a = b", "a =", "=", "a < b", "a <= b", "a > b", "a >= b", "a<>b", "{a: b, c: d}", "[a, b]", "f(a, `1`)", "`1`",
    "`\"x\"`", "`x`", "``", "` `", "`[1, {\"a\": null}]`", "`1` ", "a == `1`", "'x'", "''", "'it\\'s'", "'a", "\"a\"", "\"\"",
    "\"a b\"", "\"\\u0041\"", "\"a\\\"b\"", "\"a", "\"\t\"", "a.\"b\"", "`\\``", "a\\b", "a$", "a.é", "é", "a ?", "a[?b == 'x']",
    "length(values(file.g1)[?value > `3`]) > `0`", "version_cmp(a.b, '2.1') >= `0`", "a.b.c[0].d[?e].f | g", "not_a_fn(@)",
    "a.{b: c}", "a.[b, c]", "&&", "||", "a ||", "(a)", "((a)", "a)", "a,", ":", "a:b", "{", "}", "[", "]", "a[1", "a[?", "a.", ".a",
]


def reference_tokens(text: str):
    try:
        return list(lexer.Lexer().tokenize(text))
    except jmespath.exceptions.JMESPathError as exc:
        return type(exc)


def outcome(compile_, text: str):
    Parser._CACHE.clear()  # both share jmespath's cache: parse afresh
    try:
        return "ast", compile_(text).parsed
    except jmespath.exceptions.JMESPathError as exc:
        return "error", type(exc), str(exc), getattr(exc, "lex_position", None)


def agree(text: str) -> None:
    found = tokens(text)
    if found is not None:
        assert found == reference_tokens(text), text
    assert outcome(parse, text) == outcome(jmespath.compile, text), text


def _suite_expressions() -> list[str]:
    if not SUITE.is_dir():
        return []
    return [case["expression"] for path in sorted(SUITE.glob("*.json")) for group in json.loads(path.read_text(encoding="utf-8"))
            for case in group["cases"]]


@pytest.mark.parametrize("text", ODD)
def test_agrees_with_jmespath_on_odd_text(text):
    agree(text)


def test_agrees_with_jmespath_on_the_compliance_suite_and_the_benchmark():
    texts = _suite_expressions() + policy_expressions(400)
    for text in texts:
        agree(text)
    assert sum(tokens(t) is not None for t in texts) > len(texts) // 2  # the fast path is the common one


def test_the_benchmark_expressions_take_the_fast_path():
    assert all(tokens(text) is not None for text in policy_expressions(400))


FRAGMENTS = ["a", "b1", "_", " ", ".", "*", "[", "]", "[]", "[?", ",", ":", "@", "(", ")", "{", "}", "|", "||", "&", "&&", "<", "<=",
             ">", ">=", "!", "!=", "==", "=", "-", "0", "12", "`1`", "`", "'x'", "'", "\"k\"", "\"", "\\", "\n", "é", "?"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=14))
def test_agrees_with_jmespath_on_generated_text(parts):
    agree("".join(parts))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab1-.[]?*'`\"\\|&<>=!(){}:,@ \t"), max_size=12))
def test_agrees_with_jmespath_on_random_characters(text):
    agree(text)
