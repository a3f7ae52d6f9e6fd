"""Fuzzing the loader, the compiler, the engine, the operators and the functions.

Each property runs a bounded number of examples so the suite stays fast (150 by default).
To fuzz longer locally, raise the count with an environment variable, e.g.::

    WFGY_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/security/test_fuzz.py

By default the examples are derandomized (the same ones every run, so CI is stable); with
``WFGY_FUZZ_EXAMPLES`` set they are random, and Hypothesis prints any failing case.

Properties (each a contract the CLI's exit codes rely on: an exception that is not a
`WfgyError` becomes exit 3, "internal error"):

* random policy documents → ``compile_policy`` returns a policy or raises a `WfgyError`;
* random YAML text → ``load_text`` returns a document or raises `PolicyError`;
* random fact bundles × the built-in rule packs → ``evaluate`` never raises and gives at
  least one result per rule, each with status pass, fail, skip or error;
* every operator and every custom function on arbitrary JSON arguments → a value or an
  `EvaluationError`.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfgy_rules.documents.yamlio import load_text
from wfgy_rules.errors import EvaluationError, PolicyError, WfgyError
from wfgy_rules.model import Bundle, Status
from wfgy_rules.policy.compiler import compile_policy
from wfgy_rules.policy.expressions import compile_expr
from wfgy_rules.policy.loader import load_policies
from wfgy_rules.policy.operators import OPERATORS
from wfgy_rules.providers import registry
from wfgy_rules.run.engine import evaluate

pytestmark = pytest.mark.slow  # property-based sweeps: run by .ci/run, left out of the fast loop

EXAMPLES = int(os.environ.get("WFGY_FUZZ_EXAMPLES", "150"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize="WFGY_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])

PROVIDERS = sorted(registry.names())

# ---------------------------------------------------------------- JSON values

# Integers as a JSON bundle can carry them: small ones, and huge exact ones (10**400).
integers = st.one_of(st.integers(-1000, 1000), st.integers(-(10**400), 10**400))
versionish = st.from_regex(r"\Av?[0-9]{1,4}(\.[0-9]{1,4}){0,3}([ab]|rc|\.post|\.dev|\+cu)?[0-9]{0,3}\Z")
scalars = st.one_of(
    st.none(), st.booleans(), integers,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), versionish,
    st.sampled_from(["", "patch", "minor", "major", ">=12,<13", "==1.*", "~=2.3", "12.1", "(a+)+$", "[", "x" * 50]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(st.text(max_size=8), children, max_size=5)),
    max_leaves=25,
)

# ---------------------------------------------------------------- engine

BUILTIN_RULES = load_policies(["builtin"], Path.cwd()).rules


def _shaped(fields: dict):
    """A provider's facts in roughly the real shape, with arbitrary leaves."""
    return st.fixed_dictionaries({}, optional={k: v for k, v in fields.items()})


leaf = json_values
bundle_shapes = {
    "model_card": _shaped({"present": leaf, "path": leaf, "declared": st.one_of(_shaped({
        "tokenizer_sha": leaf, "torch": st.one_of(versionish, leaf), "transformers": st.one_of(versionish, leaf),
        "tokenizers": leaf, "cuda": st.one_of(versionish, leaf), "requires_gpu": leaf, "min_gpu_memory_gib": leaf}), leaf)}),
    "runtime": _shaped({"packages": st.one_of(st.dictionaries(st.sampled_from(["torch", "transformers", "tokenizers"]), st.one_of(versionish, leaf)), leaf),
                        "cuda": st.one_of(_shaped({"compiled": st.one_of(versionish, leaf)}), leaf),
                        "model_dir": st.one_of(_shaped({"present": leaf, "config": leaf, "tokenizer": leaf, "checkpoint": leaf, "generation_config": leaf}), leaf)}),
    "nvml": _shaped({"available": leaf, "cuda_driver_version": st.one_of(versionish, leaf), "driver_version": st.one_of(versionish, leaf),
                     "device_count": leaf, "max_memory_total_gib": leaf}),
    "env": _shaped({"missing": leaf, "empty": leaf, "near_misses": st.one_of(st.lists(st.dictionaries(st.sampled_from(["declared", "found", "path", "line"]), leaf)), leaf),
                    "kinds": leaf, "names": leaf}),
    "secrets": _shaped({"missing": leaf, "sources": leaf, "present": leaf}),
    "prompts": _shaped({"undeclared": st.one_of(st.lists(st.dictionaries(st.sampled_from(["name", "path", "line", "column", "syntax"]), leaf), max_size=3), leaf),
                        "errors": leaf, "unused": leaf}),
}
bundles = st.builds(
    lambda facts, errors: Bundle({k: v for k, v in facts.items() if k not in errors}, errors),
    st.fixed_dictionaries({}, optional={name: st.one_of(shape, leaf) for name, shape in bundle_shapes.items()}),
    st.dictionaries(st.sampled_from(sorted(bundle_shapes)), st.text(max_size=10), max_size=2),
)


def check_results(rules, results) -> None:
    """At least one result per rule, in rule order, each with a status the engine may give."""
    assert [r.rule_id for r in results] == sorted((r.rule_id for r in results), key=[rule.id for rule in rules].index)
    assert {r.rule_id for r in results} == {rule.id for rule in rules}
    for result in results:
        assert result.status in (Status.pass_, Status.fail, Status.skip, Status.error)
        assert isinstance(result.message, str)
        json.dumps([e.to_json() for e in result.evidence], allow_nan=False, default=str)


@fuzz
@given(bundles)
def test_random_fact_bundles_never_break_the_builtin_packs(bundle):
    check_results(BUILTIN_RULES, evaluate(BUILTIN_RULES, bundle))


# ---------------------------------------------------------------- expressions

NAMES = PROVIDERS + ["params", "item", "index", "modle_card", "true", "false", "null", "unknown"]
FIELDS = ["present", "declared", "missing", "names", "values", "packages", "torch", "version", "x", "0"]
FUNCTIONS = ["length", "keys", "to_number", "to_string", "abs", "sum", "avg", "max", "sort", "join", "contains",
             "starts_with", "version_cmp", "version_satisfies", "version_drift", "regex_match", "close_matches",
             "verison_cmp", "read_file", "env", "open"]


def _path():
    return st.builds(lambda root, rest: ".".join([root, *rest]), st.sampled_from(NAMES), st.lists(st.sampled_from(FIELDS), max_size=3))


literal = st.one_of(
    json_values.map(lambda v: "`" + json.dumps(v).replace("`", "\\`") + "`"),
    st.text(alphabet=string.ascii_letters + " .-", max_size=8).map(lambda s: "'" + s + "'"),
)
atom = st.one_of(_path(), literal, st.just("@"))
expressions = st.recursive(
    atom,
    lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "&&", "||", "|"]), inner),
        st.builds(lambda f, args: f"{f}({', '.join(args)})", st.sampled_from(FUNCTIONS), st.lists(inner, max_size=3)),
        st.builds(lambda a: f"!{a}", inner),
        st.builds(lambda a, b: f"{a}[?{b}]", inner, inner),
        st.builds(lambda a: f"{a}[*]", inner),
        st.builds(lambda a: f"({a})", inner),
    ),
    max_leaves=6,
) | st.text(max_size=15)  # and plain garbage

conditions = st.recursive(
    st.fixed_dictionaries(
        {"key": expressions, "op": st.one_of(st.sampled_from(sorted(OPERATORS)), st.text(max_size=6))},
        optional={"value": json_values, "value_from": expressions},
    ),
    lambda inner: st.one_of(
        st.fixed_dictionaries({"all": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"any": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"not": inner}),
        st.dictionaries(st.sampled_from(["all", "any", "not", "key", "op", "value"]), inner, max_size=3),
    ),
    max_leaves=5,
)
templates = st.lists(st.one_of(st.text(max_size=10), expressions.map(lambda e: "{{ " + e + " }}")), max_size=3).map("".join)

rules = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,12}\Z"), st.text(max_size=8)),
        "title": st.one_of(st.text(max_size=12), json_values),
        "severity": st.one_of(st.sampled_from(["info", "low", "medium", "high", "critical", "urgent"]), json_values),
        "facts": st.one_of(st.lists(st.sampled_from(NAMES), max_size=3), json_values),
        "params": st.one_of(st.dictionaries(st.text(max_size=8), json_values, max_size=3), json_values),
        "when": st.one_of(expressions, json_values),
        "for_each": expressions,
        "assert": st.one_of(expressions, conditions, json_values),
        "message": st.one_of(templates, json_values),
        "remedy": st.one_of(
            st.fixed_dictionaries({"action": st.sampled_from(["abort", "warn", "block", "fallback", "explode"])},
                                  optional={"hint": st.text(max_size=8), "timeout": st.sampled_from(["1s", "2m", "soon", 5, -1]),
                                            "interval": st.sampled_from(["1s", "0s", "x"]), "env": json_values}),
            json_values),
        "references": json_values,
        "asert": expressions,
    },
)
policies = st.fixed_dictionaries(
    {"apiVersion": st.sampled_from(["wfgy-rules/v1", "wfgy-rules/v2", 1]), "kind": st.sampled_from(["Policy", "Polcy"])},
    optional={
        "metadata": st.one_of(st.fixed_dictionaries({"name": st.text(max_size=10)}, optional={"owner": json_values}), json_values),
        "rules": st.one_of(st.lists(rules, max_size=3), json_values),
        "extra": json_values,
    },
)


@fuzz
@given(policies, st.sampled_from(["yaml", "json"]), st.data())
def test_random_policy_documents_compile_or_raise_a_wfgy_error(doc, dump, data):
    """…and a policy that compiles evaluates any bundle without raising."""
    text = yaml.safe_dump(doc, allow_unicode=True) if dump == "yaml" else json.dumps(doc)
    try:
        document = load_text(text, "fuzz.yaml")
        policy = compile_policy(document, 0, frozenset(PROVIDERS))
    except WfgyError as exc:
        assert exc.lines() and all("\n" not in line for line in exc.lines())
        return
    check_results(list(policy.rules), evaluate(list(policy.rules), data.draw(bundles)))


# ---------------------------------------------------------------- YAML text

YAML_TOKENS = ["a", "b", "key", ": ", ":", "- ", "-", "? ", "{", "}", "[", "]", ",", "'", '"', "&x ", "*x", "*y", "<<: ",
               "!!python/object/apply:os.system ", "!!str ", "!!int ", "!!float ", "!!binary ", "!foo ", "--- ", "...",
               "\n", "\n  ", "\n    ", "\t", "#", "|", ">", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", ".nan", ".inf", "1e5",
               "0x1F", "0o17", "2027-01-31", "~", "null", "yes", "\\", "\x00", "\ufeff", "\r\n", "99999999999999999999999"]
yaml_texts = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join),
    json_values.map(lambda v: yaml.safe_dump(v)),
)


@fuzz
@given(yaml_texts)
def test_random_yaml_text_loads_or_raises_a_policy_error(text):
    try:
        document = load_text(text, "fuzz.yaml")
    except PolicyError as exc:
        assert exc.lines()
        return
    json.dumps(document.data, allow_nan=False)  # whatever loads is plain JSON data


# ---------------------------------------------------------------- operators and functions


@fuzz
@given(st.sampled_from(sorted(OPERATORS)), json_values, json_values,
       st.one_of(st.just({}), st.fixed_dictionaries({"ignore_versions": st.one_of(st.lists(st.sampled_from(["patch", "minor", "major"])), json_values)})))
def test_operators_return_a_boolean_or_raise_an_evaluation_error(op, left, right, params):
    try:
        value = OPERATORS[op](left, right, params)
    except EvaluationError:
        return
    assert isinstance(value, bool)


CUSTOM = ["version_cmp", "version_satisfies", "version_drift", "regex_match", "close_matches"]


@pytest.mark.parametrize("name", CUSTOM)
@fuzz
@given(a=st.one_of(json_values, versionish), b=st.one_of(json_values, versionish, st.lists(st.text(max_size=6), max_size=4)))
def test_custom_functions_return_a_value_or_raise_an_evaluation_error(name, a, b):
    try:
        value = compile_expr(f"{name}(@[0], @[1])").search([a, b])
    except EvaluationError:
        return
    json.dumps(value, allow_nan=False)
