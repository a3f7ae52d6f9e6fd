"""The placeholder scanners, as data: (text, syntax) -> placeholders and problems."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfgy_rules.providers.prompts.templates.placeholders import (
    SYNTAXES,
    Placeholder,
    SyntaxProblem,
    may_contain,
    scan,
)

P = Placeholder

# (id, syntax, text, expected placeholders as (name, line, column, default[, optional]))
CASES = [
    # --- jinja2 ---
    ("j-simple", "jinja2", "Hello {{ name }}!", [("name", 1, 10, False)]),
    ("j-root-of-attribute", "jinja2", "{{ user.email }} {{ user['id'] }}", [("user", 1, 4, False), ("user", 1, 21, False)]),
    ("j-attribute-same-name", "jinja2", "{{ user.user }}", [("user", 1, 4, False)]),
    ("j-default-filter", "jinja2", "{{ tone | default('friendly') }}", [("tone", 1, 4, True)]),
    ("j-d-alias", "jinja2", "{{ tone|d('x') }}", [("tone", 1, 4, True)]),
    ("j-default-only-direct", "jinja2", "{{ user.name | default('x') }}", [("user", 1, 4, False)]),
    ("j-filter-name-not-var", "jinja2", "{{ upper | upper }}", [("upper", 1, 4, False)]),
    ("j-is-defined-guard", "jinja2", "{% if x is defined %}{{ x }}{% endif %}", [("x", 1, 7, True), ("x", 1, 25, True)]),
    ("j-is-not-defined", "jinja2", "{% if x is not defined %}none{% else %}{{ x }}{% endif %}", [("x", 1, 7, True), ("x", 1, 43, True)]),
    ("j-default-anywhere-resolves-the-file", "jinja2", "{% if x is defined %}{% endif %}{{ x }}", [("x", 1, 7, True), ("x", 1, 36, True)]),
    ("j-condexpr-guard", "jinja2", "{{ x if x is defined else 'n/a' }}", [("x", 1, 4, True), ("x", 1, 9, True)]),
    ("j-test-name-not-var", "jinja2", "{{ n is odd }}", [("n", 1, 4, False, True)]),
    ("j-set-not-placeholder", "jinja2", "{% set a = b %}{{ a }}", [("b", 1, 12, False)]),
    ("j-set-self-reference", "jinja2", "{% set x = x ~ '!' %}{{ x }}", [("x", 1, 12, False)]),
    ("j-set-in-one-branch", "jinja2", "{% if c %}{% set v = 1 %}{% endif %}{{ v }}", [("c", 1, 7, False, True)]),
    (
        "j-set-in-every-branch",
        "jinja2",
        "{% if c %}{% set v = 1 %}{% elif d %}{% set v = 2 %}{% else %}{% set v = 3 %}{% endif %}{{ v }}",
        [("c", 1, 7, False, True), ("d", 1, 34, False, True)],
    ),
    ("j-set-block", "jinja2", "{% set s %}{{ inner }}{% endset %}{{ s }}", [("inner", 1, 15, False)]),
    ("j-namespace", "jinja2", "{% set ns = namespace(n=0) %}{% set ns.n = ns.n + 1 %}{{ ns.n }}", []),
    ("j-loop-variables", "jinja2", "{% for m in items %}{{ m }}{{ loop.index }}{% endfor %}", [("items", 1, 13, False)]),
    ("j-loop-var-outside-loop", "jinja2", "{% for m in ms %}{% endfor %}{{ m }}", [("ms", 1, 13, False), ("m", 1, 33, False)]),
    ("j-loop-filter", "jinja2", "{% for m in ms if m.ok and flag %}{{ m }}{% endfor %}", [("ms", 1, 13, False), ("flag", 1, 28, False, True)]),
    ("j-loop-controls", "jinja2", "{% for m in ms %}{% if m %}{% break %}{% endif %}{% continue %}{% endfor %}", [("ms", 1, 13, False)]),
    ("j-globals", "jinja2", "{% for i in range(3) %}{{ i }}{{ dict(a=1) }}{% endfor %}", []),
    ("j-macro", "jinja2", "{% macro f(p, q=r) %}{{ p }}{{ q }}{{ s }}{{ caller }}{% endmacro %}{{ f(1) }}", [("r", 1, 17, False), ("s", 1, 39, False)]),
    ("j-keyword-key-not-var", "jinja2", "{{ render(name=name) }}", [("render", 1, 4, False, True), ("name", 1, 16, False)]),
    ("j-call-block", "jinja2", "{% call(row) grid(rows) %}{{ row }}{% endcall %}", [("grid", 1, 14, False, True), ("rows", 1, 19, False)]),
    ("j-with", "jinja2", "{% with a = b %}{{ a }}{% endwith %}{{ a }}", [("b", 1, 13, False), ("a", 1, 40, False)]),
    ("j-filter-block", "jinja2", "{% filter upper %}{{ x }}{% endfilter %}", [("x", 1, 22, False)]),
    ("j-import", "jinja2", "{% from 'm.j2' import f as g, h %}{% import 'n.j2' as n %}{{ g() }}{{ h }}{{ n.x }}", []),
    ("j-raw", "jinja2", "{% raw %}{{ not_a_var }}{% endraw %}{{ yes }}", [("yes", 1, 40, False)]),
    ("j-escaped-braces", "jinja2", "{{ '{{' }} literal {{ '}}' }}", []),
    ("j-comment", "jinja2", "{# {{ hidden }} #}{{ shown }}", [("shown", 1, 22, False)]),
    ("j-multiline", "jinja2", "intro\n{{\n   first\n}} {{ second }}", [("first", 3, 4, False), ("second", 4, 7, False)]),
    ("j-crlf", "jinja2", "a\r\nb\r\n  {{ x }}", [("x", 3, 6, False)]),
    ("j-whitespace-control", "jinja2", "a  {%- if x -%}  {{- y -}}  {%- endif %}", [("x", 1, 11, False, True), ("y", 1, 22, False)]),
    ("j-string-holding-name", "jinja2", "{{ 'x' ~ x }}", [("x", 1, 10, False)]),
    ("j-self-is-reserved", "jinja2", "{% block b %}{{ super() }}{% endblock %}{{ self.b() }}", []),
    ("j-generation-tag", "chat_template", "{% generation %}{{ extra }}{% endgeneration %}", [("extra", 1, 20, False)]),
    ("j-no-markers", "jinja2", "plain text with a } brace", []),
    # --- jinja2 scopes: defaults, optional switches (expected as (name, line, column, default, optional)) ---
    ("j-macro-before-definition", "jinja2", "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}x{% endmacro %}{{ a() }}", []),
    ("j-recursive-macro", "jinja2", "{% macro r(t) %}{% for c in t %}{{ r(c) }}{% endfor %}{% endmacro %}{{ r(tree) }}", [("tree", 1, 74, False)]),
    ("j-if-not-defined-set", "jinja2", "{% if t is not defined %}{% set t = 1 %}{% endif %}{{ t }}", [("t", 1, 7, True)]),
    ("j-set-or-default", "jinja2", "{% set x = x or 'd' %}{{ x }}", [("x", 1, 12, True)]),
    ("j-set-default-filter", "jinja2", "{% set x = x | default(1) %}{{ x }}", [("x", 1, 12, True)]),
    ("j-defined-and", "jinja2", "{{ x is defined and x }}", [("x", 1, 4, True), ("x", 1, 21, True)]),
    ("j-only-tested", "jinja2", "{% if enable_thinking %}t{% endif %}{% if tools is not none %}u{% endif %}",
     [("enable_thinking", 1, 7, False, True), ("tools", 1, 43, False, True)]),
    ("j-tested-through-filter-and-compare", "jinja2", "{% if mode|upper == 'STRICT' or 'x' in controls %}s{% endif %}",
     [("mode", 1, 7, False, True), ("controls", 1, 40, False, True)]),
    ("j-output-under-its-test", "jinja2", "{% if preamble %}{{ preamble }}{% endif %}", [("preamble", 1, 7, False, True), ("preamble", 1, 21, False, True)]),
    ("j-dereferenced-in-test-is-needed", "jinja2", "{% if cfg.on %}x{% endif %}", [("cfg", 1, 7, False)]),
    ("j-concat-is-needed", "jinja2", "{{ 'a' + suffix }}", [("suffix", 1, 10, False)]),
    ("j-argument-of-tested-parameter", "jinja2", "{% macro m(flag, v) %}{% if flag %}{{ v }}{% endif %}{% endmacro %}{{ m(on, val) }}",
     [("on", 1, 73, False, True), ("val", 1, 77, False)]),
    ("j-definedness-through-macro", "jinja2",
     "{% macro is_set(p) %}{{ p is defined }}{% endmacro %}{{ is_set(knobs) }}{{ knobs.x }}", [("knobs", 1, 64, True), ("knobs", 1, 76, True)]),
    ("j-template-level-set-seen-by-macro", "jinja2", "{% macro m() %}{{ ns.sep }}{% endmacro %}{% set ns = namespace(sep=1) %}{{ m() }}", []),
    ("j-namespace-in-loop", "jinja2", "{% set ns = namespace(f=0) %}{% for m in ms %}{% set ns.f = 1 %}{% endfor %}{{ ns.f }}", [("ms", 1, 42, False)]),
    ("j-multiline-string-in-tag", "jinja2", "\n" * 300 + "{{- '{{\"a\": 1}}, ' ~\n'{{b}}\n' ~ z }}\n" + "x\n" * 1400,
     [("z", 303, 5, False)]),
    # --- mustache ---
    ("m-variable", "mustache", "Hi {{name}} and {{ other }}", [("name", 1, 6, False), ("other", 1, 20, False)]),
    ("m-section-once", "mustache", "{{#items}}- {{label}}{{/items}}", [("items", 1, 4, False)]),  # label: maybe the item's
    ("m-each-item-fields", "mustache", "{{#each (Plugin-Fn question)}}{{Name}}{{/each}}{{#if ok}}{{v}}{{/if}}",
     [("question", 1, 20, False), ("ok", 1, 54, False), ("v", 1, 60, False)]),
    ("m-inverted", "mustache", "{{^empty}}none{{/empty}}", [("empty", 1, 4, False)]),
    ("m-raw", "mustache", "{{{html}}} {{& amp}}", [("html", 1, 4, False), ("amp", 1, 16, False)]),
    ("m-comment-partial", "mustache", "{{! note {{x}} }}{{> footer}}{{!-- a }} b --}}", []),
    ("m-dotted", "mustache", "{{user.name}} {{.}}", [("user", 1, 3, False)]),
    ("m-escape", "mustache", "\\{{literal}} {{real}}", [("real", 1, 16, False)]),
    ("m-set-delimiter", "mustache", "{{=<% %>=}}<% a %> {{b}} <%={{ }}=%>{{c}}", [("a", 1, 15, False), ("c", 1, 39, False)]),
    ("m-handlebars-helpers", "mustache", "{{#if ok}}{{upper name}}{{else}}{{fmt key=val}}{{/if}}", [("ok", 1, 7, False), ("name", 1, 19, False), ("val", 1, 43, False)]),
    ("m-handlebars-each", "mustache", "{{#each rows as |r|}}{{this}}{{@index}}{{../title}}{{/each}}", [("rows", 1, 9, False), ("title", 1, 45, False)]),
    ("m-multiline", "mustache", "line\n\n  {{x}}", [("x", 3, 5, False)]),
    # --- semantic kernel ---
    ("sk-variables-and-calls", "semantic_kernel", "{{$input}} {{time.now}} {{recall $q x='{{$no}}'}} {{ $Name }}",
     [("input", 1, 4, False), ("q", 1, 35, False), ("Name", 1, 55, False)]),
    ("sk-string-literal", "semantic_kernel", "{{ '{{$x}}' }} {{\"a}}b\"}}", []),
    # --- dollar ---
    ("d-braced-and-bare", "dollar", "Hi ${NAME}, $USER!", [("NAME", 1, 6, False), ("USER", 1, 14, False)]),
    ("d-defaults", "dollar", "${A:-x} ${B-y} ${C:=z} ${D:+alt}", [("A", 1, 3, True), ("B", 1, 11, True), ("C", 1, 18, True), ("D", 1, 26, True)]),
    ("d-required", "dollar", "${KEY:?must be set}", [("KEY", 1, 3, False)]),
    ("d-escape", "dollar", "$$HOME costs $$5 ${REAL}", [("REAL", 1, 20, False)]),
    ("d-nested-default", "dollar", "${A:-${B}}", [("A", 1, 3, True), ("B", 1, 8, False)]),
    ("d-not-identifiers", "dollar", "costs $5 or ${1} or $ alone", []),
    ("d-crlf", "dollar", "x\r\n$Y", [("Y", 2, 2, False)]),
    ("d-flow-inputs-and-wiring", "dollar", "${inputs.q} ${llm.output} ${env:KEY} ${T=\"a|b\"}", [("q", 1, 10, False), ("T", 1, 40, True)]),
    # --- format ---
    ("f-fields", "format", "{greeting}, {user.name}! {items[0]}", [("greeting", 1, 2, False), ("user", 1, 14, False), ("items", 1, 27, False)]),
    ("f-escapes", "format", "{{literal}} {{{real}}}", [("real", 1, 16, False)]),
    ("f-positional", "format", "{} {0} {1.x}", []),
    ("f-json-is-not-a-field", "format", 'Reply as {"answer": 1, "nested": {"k": [1]}} for {topic}', [("topic", 1, 51, False)]),
    ("f-conversion-and-spec", "format", "{x!r:>10} {y:{width}}", [("x", 1, 2, False), ("y", 1, 12, False), ("width", 1, 15, False)]),
    ("f-stray-braces", "format", "a } b { c", []),
]


@pytest.mark.parametrize(("syntax", "text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_scan(syntax: str, text: str, expected: list[tuple[str, int, int, bool]]) -> None:
    placeholders, problems = scan(text, syntax)
    assert problems == []
    assert placeholders == [P(*e) for e in expected]


# (id, syntax, text, expected problems as (line, column, message))
PROBLEMS = [
    ("j-unclosed", "jinja2", "ok\n\n{{ x ", [(3, None, "unexpected end of template, expected 'end of print statement'.")]),
    ("j-unknown-tag", "jinja2", "{% frobnicate %}", [(1, None, "Encountered unknown tag 'frobnicate'.")]),
    ("j-mustache-section-in-jinja", "jinja2", "a\r\n{{#items}}", [(2, None, "unexpected char '#' at 4")]),
    ("m-unclosed-tag", "mustache", "a\n{{name", [(2, 1, "unclosed tag '{{'")]),
    ("m-unclosed-section", "mustache", "{{#items}}x", [(1, 4, "unclosed section 'items'")]),
    ("m-mismatched-close", "mustache", "{{#a}}{{/b}}{{/a}}", [(1, 10, "closing section 'b' was never opened, expected {{/a}}")]),
    ("m-bad-delimiters", "mustache", "{{=<%=}}", [(1, 1, "a set-delimiter tag needs two delimiters: {{=<% %>=}}")]),
]


@pytest.mark.parametrize(("syntax", "text", "expected"), [c[1:] for c in PROBLEMS], ids=[c[0] for c in PROBLEMS])
def test_problems(syntax: str, text: str, expected: list[tuple[int, int | None, str]]) -> None:
    assert scan(text, syntax)[1] == [SyntaxProblem(*e) for e in expected]


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    placeholders, problems = scan("{{ " + "(" * 5000 + "x" + ")" * 5000 + " }}", "jinja2")
    assert (placeholders, [p.message for p in problems]) == ([], ["template nests too deeply to analyse"])


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_text_without_markers_is_not_parsed(syntax: str) -> None:
    assert not may_contain("plain prose, nothing to see", syntax)
    assert scan("plain prose, nothing to see", syntax) == ([], [])


FRAGMENTS = [
    "{{ ", " }}", "{%", "%}", "{#", "#}", "{{{", "}}}", "${", "}", "{", "$", "$$", ":-", "\n", "\r\n", " ",
    "x", "user", ".name", "[0]", "|", "default(", ")", "is defined", "if ", "for ", " in ", "set ", "=",
    "#", "^", "/", "&", ">", "!", "'", '"', "\\", "endif", "endfor", "raw", "é", "\ufeff",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40), st.sampled_from(SYNTAXES))
def test_any_text_scans_and_every_position_points_at_its_name(parts: list[str], syntax: str) -> None:
    text = "".join(parts)
    placeholders, problems = scan(text, syntax)
    lines = text.replace("\r\n", "\n").split("\n")
    for p in placeholders:
        assert lines[p.line - 1][p.column - 1 :].startswith(p.name), p
    assert all(p.line >= 1 for p in problems)
