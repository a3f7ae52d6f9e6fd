"""Reading fact bundles: the member-by-member reader a fleet uses (``sections=True``) agrees
with the whole-document parse on every input, good or malformed, and keeps each provider's
exact text; the depth guard holds either way."""

from __future__ import annotations

import json

import pytest

from wfgy_rules.documents.bounded_read import read_bounded
from wfgy_rules.documents.fact_bundles import MAX_DEPTH, read_bundle
from wfgy_rules.errors import WfgyError

INPUTS = [
    '{"env": {"names": ["HOME"]}, "nvml": {"gpus": [1, 2]}}',
    '  {\n  "env" :\t{ } ,\n "file": [] }\n\n',
    "{}",
    ' { } ',
    '{"_errors": {"nvml": "no GPU"}, "env": {}}',
    '{"a": "caf\\u00e9 \\" } , { [ ", "b": "x:y"}',
    '{"a": 1, "a": 2}',
    '{"a": {"x": 1, "x": 2}}',
    '{"a" 1}',
    '{"a": 1,}',
    '{"a": 1} trailing',
    '{"a": 1 "b": 2}',
    '{"a": NaN}',
    '{"a": [1, 2}',
    '{1: 2}',
    "[1, 2]",
    '"text"',
    "{",
    "",
    '{"_errors": ["not", "a", "map"]}',
]


def outcome(path, sections):
    try:
        bundle = read_bundle(path, sections=sections)
    except WfgyError as exc:
        return "refused", [str(problem) for problem in exc.problems]
    return "read", bundle.facts, bundle.errors, bundle.digest


@pytest.mark.parametrize("text", INPUTS)
def test_the_member_by_member_reader_agrees_with_the_whole_parse(tmp_path, text):
    path = tmp_path / "node-1.json"
    path.write_text(text, encoding="utf-8")
    assert outcome(path, sections=True) == outcome(path, sections=False)


def test_each_provider_keeps_the_exact_text_its_facts_were_read_from(tmp_path):
    text = '{ "env": {"names": ["A", "B"]},\n  "nvml" : {"driver_version": "535.104.05"}, "_errors": {"kubernetes": "no cluster"} }'
    path = tmp_path / "node-1.json"
    path.write_text(text)
    bundle = read_bundle(path, sections=True)
    assert bundle.sections == {"env": '{"names": ["A", "B"]}', "nvml": '{"driver_version": "535.104.05"}'}
    assert {name: json.loads(section) for name, section in bundle.sections.items()} == bundle.facts
    assert bundle.errors == {"kubernetes": "no cluster"}
    assert read_bundle(path).sections is None  # only a fleet asks for them


@pytest.mark.parametrize("sections", [False, True])
def test_nesting_is_refused_one_level_past_the_limit_either_way(tmp_path, sections):
    path = tmp_path / "deep.json"
    # the provider object is level 1, "x" level 2: the innermost list sits at level depth + 2
    inner = MAX_DEPTH - 2
    path.write_text('{"file": {"x": ' + "[" * inner + "]" * inner + "}}")
    assert read_bundle(path, sections=sections).facts["file"]["x"] is not None
    path.write_text('{"file": {"x": ' + "[" * (inner + 1) + "]" * (inner + 1) + "}}")
    with pytest.raises(WfgyError) as refused:
        read_bundle(path, sections=sections)
    assert str(refused.value.problems[0]) == f"{path.as_posix()}: JSON nested deeper than {MAX_DEPTH} levels"


def test_a_wide_but_shallow_bundle_is_read_whole(tmp_path):
    path = tmp_path / "wide.json"
    facts = {"prompts": {"files": {f"p{i}.txt": {"placeholders": [[i]], "lines": [{"line": i}]} for i in range(2000)}}}
    path.write_text(json.dumps(facts))
    assert read_bundle(path, sections=True).facts == facts


def test_bounded_read_returns_a_large_file_whole(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * (3 << 20) + b"end")
    assert read_bounded(path, 4 << 20) == b"x" * (3 << 20) + b"end"
