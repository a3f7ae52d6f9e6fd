"""The closure compiler (`wfgy_rules.policy.jmespath_closures`) against the JMESPath compliance suite and
against jmespath's own tree interpreter.

Results are compared as canonical JSON (``json.dumps(sort_keys=True)``), so ``true`` and
``1``, or ``1`` and ``1.0``, never pass for each other; errors by exception class.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jmespath import functions as jp_functions
from jmespath.visitor import Options, TreeInterpreter

from tests.helpers import SHARED_EXTERNAL
from wfgy_rules.errors import EvaluationError
from wfgy_rules.policy import expressions
from wfgy_rules.policy.expressions import compile_expr
from wfgy_rules.policy.functions import FUNCTIONS
from wfgy_rules.policy.jmespath_closures import compile_ast

# The suite checks the deprecated `foo` literal spelling on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:deprecated string literal syntax:PendingDeprecationWarning")

SUITE = SHARED_EXTERNAL / "jmespath-compliance"
BUILTINS = jp_functions.Functions()


def _suite_cases() -> list:
    if not SUITE.is_dir():
        reason = f"JMESPath compliance suite not found at {SUITE} (a copy lives in ../shared/external, outside the repository)"
        return [pytest.param(None, None, id="suite-absent", marks=pytest.mark.skip(reason=reason))]
    cases = []
    for path in sorted(SUITE.glob("*.json")):
        for i, group in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            for j, case in enumerate(group["cases"]):
                cases.append(pytest.param(group["given"], case, id=f"{path.stem}-{i}-{j}"))
    return cases


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=lambda o: f"<{type(o).__name__}>")


def _outcome(fn, data: Any) -> tuple[str, Any]:
    """``("value", canonical JSON)`` or ``("error", exception class)``."""
    try:
        return "value", _canonical(fn(data))
    except Exception as exc:  # noqa: BLE001 - any error is an outcome to compare
        return "error", type(exc)


def _parse(text: str) -> dict | None:
    try:
        return jmespath.compile(text).parsed
    except jmespath.exceptions.JMESPathError:
        return None


@pytest.mark.parametrize("given_,case", _suite_cases())
def test_compliance_case(given_, case):
    text = case["expression"]
    ast = _parse(text)
    if ast is None:  # a syntax error: jmespath's parser rejects it before any compiling
        assert "error" in case
        return
    compiled = compile_ast(ast, BUILTINS)
    if compiled is None:
        return  # not accepted: the tree interpreter runs it
    ours = _outcome(compiled, given_)
    assert ours == _outcome(lambda data: jmespath.search(text, data), given_)
    if "error" in case:
        assert ours[0] == "error", f"{text!r} should fail with {case['error']}, gave {ours[1]}"
    elif "result" in case:  # benchmark cases ("bench": "parse") have neither
        assert ours == ("value", _canonical(case["result"]))


def test_every_compliance_expression_is_compiled():
    """Nothing in the suite falls back to the interpreter: all node types are compiled."""
    if not SUITE.is_dir():
        pytest.skip(f"JMESPath compliance suite not found at {SUITE}")
    refused = []
    for path in sorted(SUITE.glob("*.json")):
        for group in json.loads(path.read_text(encoding="utf-8")):
            for case in group["cases"]:
                ast = _parse(case["expression"])
                if ast is not None and compile_ast(ast, BUILTINS) is None:
                    refused.append(case["expression"])
    assert refused == []


# --- the quirks policies depend on, as data: (expression, data, expected) -------------------------

STRICT_CASES = [
    ("a == `1`", {"a": True}, False),
    ("a == `true`", {"a": 1}, False),
    ("a == b", {"a": 0, "b": False}, False),
    ("a != b", {"a": 1, "b": True}, True),
    ("a == `1`", {"a": 1.0}, True),
    ("a == `[1]`", {"a": [True]}, True),  # the boolean/number rule applies at the top level only
    ("a < `2`", {"a": True}, None),
    ("a < b", {"a": True, "b": 2}, None),
    ("a < b", {"a": "a", "b": "b"}, True),
    ("!a", {"a": 0}, False),
    ("!a", {"a": 0.0}, False),
    ("!a", {"a": []}, True),
    ("a || b", {"a": 0, "b": 1}, 0),
    ("a && b", {"a": {}, "b": 1}, {}),
    ("a || b || c", {"a": "", "b": [], "c": None}, None),
    ("a[?b]", {"a": [{"b": 0}, {"b": ""}, {"b": False}, {"b": [0]}]}, [{"b": 0}, {"b": [0]}]),
    ("a[*].b", {"a": [{"b": 1}, {}, {"b": None}, {"b": False}]}, [1, False]),
    ("a.b.c.d", {"a": {"b": "str"}}, None),
    ("a.b.c.d", {"a": {"b": {"c": {"d": 4}}}}, 4),
    ("a.[b, c]", {"a": None}, None),
    ("a.{b: b}", {"a": "str"}, {"b": None}),
    ("a[-1]", {"a": [1, 2, 3]}, 3),
    ("a[5]", {"a": [1, 2, 3]}, None),
    ("a[::-2]", {"a": [1, 2, 3]}, [3, 1]),
    ("a[]", {"a": [1, [2, [3]], None]}, [1, 2, [3]]),  # a projection: nulls dropped
    ("a.*", {"a": [1]}, None),
]


@pytest.mark.parametrize("text,data,expected", STRICT_CASES, ids=[c[0] + " " + json.dumps(c[1]) for c in STRICT_CASES])
def test_interpreter_quirks(text, data, expected):
    compiled = compile_ast(jmespath.compile(text).parsed, FUNCTIONS)
    assert _canonical(compiled(data)) == _canonical(expected)
    assert _canonical(jmespath.search(text, data)) == _canonical(expected)


# --- property: same outcome as the interpreter on generated documents ----------------------------

EXPRESSIONS = [
    # field chains, indexes, slices
    "a", "a.b", "a.b.c", "name.x.b.version", "a[0]", "a[-1]", "a[0].b[1]", "a[1:3]", "a[::-1]", "tags[:2]",
    # comparisons
    "a == b", "a != b", "a == `1`", "a == `true`", "a != `0`", "a == 'a'", "a.b == `null`", "x > `1`",
    "a <= b", "name < 'b'", "x >= `0.5`", "a.b == a.c",
    # boolean operators
    "a && b", "a || b", "!a", "!a.b", "a && b || c", "a || b && !c", "(a || b).c", "!(x > `1`) && name",
    # filters and projections
    "a[?x > `1`]", "a[?x == 'a'].name", "a[?name]", "a[?!x]", "a[?x > `1` && name]", "items[?b == `true`] | length(@)",
    "a[*].name", "a[*].b.c", "a.*", "a.*.name", "a[]", "a[].b", "a[][]", "items[*].tags[0]",
    # functions
    "length(a)", "length(a) > `0`", "contains(a, 'a')", "contains(tags, `1`)", "starts_with(name, 'a')",
    "keys(a)", "values(a)", "sort_by(a, &x)", "max_by(a, &x)", "min_by(items, &b)", "map(&x, a)", "sort(tags)",
    "type(a)", "to_string(a)", "not_null(a, b, `1`)", "version_cmp(version, '1.2')", "regex_match('a', name)",
    # multi-selects, pipes, literals
    "[a, b]", "{p: a, q: b.c}", "a.[x, name]", "a.{n: name}", "a | b", "a[*] | [0]", "@", "`[1, 2]`", "a.b | length(@)",
]

KEYS = ["a", "b", "c", "x", "name", "items", "tags", "version"]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=3)
    | st.floats(min_value=-10, max_value=10, allow_nan=False)
    | st.sampled_from(["", "a", "ab", "b", "1.2", "v2.0.1", "x"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=20,
)
DOCUMENTS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6)

_ASTS = {text: jmespath.compile(text).parsed for text in EXPRESSIONS}
_INTERPRETER = TreeInterpreter(Options(custom_functions=FUNCTIONS))
_COMPILED = {text: compile_ast(ast, FUNCTIONS) for text, ast in _ASTS.items()}


def test_property_expressions_are_compiled():
    assert [text for text, fn in _COMPILED.items() if fn is None] == []


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_same_outcome_as_the_interpreter(document):
    differ = {}
    for text, fn in _COMPILED.items():
        ours = _outcome(fn, document)
        theirs = _outcome(functools.partial(_INTERPRETER.visit, _ASTS[text]), document)
        if ours != theirs:
            differ[text] = (ours, theirs)
    assert differ == {}


# --- our functions through the closures, and the wiring in Expr -----------------------------------


@pytest.mark.parametrize(
    "text,data,expected",
    [
        ("version_cmp(a, '1.2')", {"a": "1.10"}, 1),
        ("version_satisfies(a, '>=12.1,<13')", {"a": "12.4"}, True),
        ("version_drift(a, b) != 'major'", {"a": "2.3.1", "b": "2.4.0"}, True),
        ("regex_match('^sk-', a)", {"a": "sk-x"}, True),
        ("close_matches('OPEN_API_KEY', keys(@))", {"OPENAI_API_KEY": 1}, ["OPENAI_API_KEY"]),
    ],
)
def test_custom_functions(text, data, expected):
    assert compile_ast(jmespath.compile(text).parsed, FUNCTIONS)(data) == expected
    assert compile_expr(text).search(data) == expected


def test_a_non_version_is_an_evaluation_error():
    compiled = compile_ast(jmespath.compile("version_cmp(a, '1.0')").parsed, FUNCTIONS)
    with pytest.raises(EvaluationError, match="not a version"):
        compiled({"a": "not a version"})
    with pytest.raises(EvaluationError, match="not a version"):
        compile_expr("version_cmp(a, '1.0')").search({"a": "not a version"})


@pytest.mark.parametrize(
    "text,message",
    [
        ("length(a)", "length(a): In function length(), invalid type for value: None"),
        ("a < b", "a < b: TypeError: '<' not supported between instances of 'str' and 'int'"),
        ("nope(a)", "nope(a): Unknown function: nope()"),
    ],
)
def test_expr_errors_name_the_expression(text, message):
    with pytest.raises(EvaluationError) as caught:
        compile_expr(text).search({"a": "x", "b": 1} if "<" in text else {})
    assert str(caught.value).startswith(message)


def test_unknown_node_types_are_not_accepted():
    assert compile_ast({"type": "let", "children": []}, FUNCTIONS) is None
    assert compile_ast({"type": "subexpression", "children": [{"type": "field", "value": "a", "children": []}, {"type": "variable"}]}, FUNCTIONS) is None


def test_expr_falls_back_to_the_interpreter(monkeypatch):
    monkeypatch.setattr(expressions, "compile_ast", lambda ast, functions: None)
    expr = compile_expr("a[?b > `1`].c | length(@)")
    assert isinstance(expr.evaluate, functools.partial)
    assert expr.search({"a": [{"b": 2, "c": 1}, {"b": 0, "c": 1}]}) == 1


def test_expr_uses_the_compiled_closure():
    expr = compile_expr("a.b")
    assert not isinstance(expr.evaluate, functools.partial)
    assert expr == compile_expr("a.b")  # the closure takes no part in equality
    assert "evaluate" not in repr(expr)


class _Twice(jp_functions.Functions):
    """A plugin function that visits a node other than its ``&expr``'s own."""

    @jp_functions.signature({"types": ["expref"]}, {"types": []})
    def _func_inner(self, expref, value):
        return expref.visit(expref.expression["children"][0], value)


def test_an_expref_visiting_another_node_uses_the_interpreter():
    compiled = compile_ast(jmespath.compile("inner(&a.b, @)").parsed, _Twice())
    assert compiled({"a": {"b": 1}}) == {"b": 1}
