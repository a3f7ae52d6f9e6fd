"""The fast schema checker agrees with jsonschema wherever it answers."""

from __future__ import annotations

import copy

import jsonschema
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import REPO
from wfgy_rules.documents.fast_schema_check import is_valid
from wfgy_rules.documents.schema import SCHEMA_NAMES, load_schema
from wfgy_rules.providers import registry

SAMPLES = {
    "policy": [yaml.safe_load(p.read_text()) for p in sorted((REPO / "rules").glob("*.yaml"))],
    "config": [yaml.safe_load((REPO / "policies.example" / "wfgy.yaml").read_text())],
    "policy-test": [yaml.safe_load(p.read_text()) for p in sorted((REPO / "rules" / "tests").glob("*.yaml"))],
    "prompt-vars": [yaml.safe_load((REPO / "policies.example" / "prompt_vars.yaml").read_text())],
    "model-card": [{"model": "a", "tokenizer_sha": "abcdef0", "torch": "2.3.1", "requires_gpu": True}],
}
SCHEMAS = {name: load_schema(name) for name in SCHEMA_NAMES} | {
    f"provider:{name}": registry.load(name).config_schema for name in sorted(registry.names())
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False, allow_infinity=False, width=16) | st.sampled_from(["", "x", "abort", "high", "wfgy-rules/v1", "Policy", "1.2"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["id", "rules", "kind", "assert", "x", "facts", "paths", "required"]), children, max_size=3),
    max_leaves=12,
)


def agree(schema, instance) -> None:
    fast = is_valid(schema, instance)
    if fast is not None:
        assert fast == jsonschema.Draft202012Validator(schema).is_valid(instance), instance


def test_samples_are_valid_for_both():
    for name, docs in SAMPLES.items():
        for doc in docs:
            assert is_valid(SCHEMAS[name], doc) is True, name
            assert jsonschema.Draft202012Validator(SCHEMAS[name]).is_valid(doc), name


def test_every_shipped_schema_is_understood():
    for name, schema in SCHEMAS.items():
        assert is_valid(schema, {}) is not None, name


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(SCHEMAS)), value=json_values)
def test_agrees_on_arbitrary_values(name, value):
    agree(SCHEMAS[name], value)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_agrees_on_mutated_valid_documents(data):
    name = data.draw(st.sampled_from(sorted(SAMPLES)))
    doc = copy.deepcopy(data.draw(st.sampled_from(SAMPLES[name])))
    where = data.draw(st.sampled_from(list(_paths(doc))[1:]))
    parent = doc
    for part in where[:-1]:
        parent = parent[part]
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "delete" and isinstance(parent, dict):
        del parent[where[-1]]
    elif action == "add" and isinstance(parent, dict):
        parent[data.draw(st.sampled_from(["asert", "x", "severity", "vaule"]))] = data.draw(json_values)
    else:
        parent[where[-1]] = data.draw(json_values)
    agree(SCHEMAS[name], doc)
