"""``record_changes(locked, found)``: what changed between the card's per-file records and the
model directory's, in the words a person acts on. Cases as data: records in, lines out."""

from __future__ import annotations

import pytest

from wfgy_rules.policy.expressions import compile_expr
from wfgy_rules.policy.record_changes import MAX_CHANGES, record_changes
from wfgy_rules.providers.model.file_records import line_hash, lines_record, settings_record

SHA_A, SHA_B = "a" * 64, "b" * 64


def _lines(*lines: str) -> dict:
    return lines_record([(None, "\n".join(lines))], "chat_template.jinja", SHA_A)


CASES = [
    ("a value changed", {"tokenizer_config.json": settings_record({"add_eos_token": False, "bos_token": "<s>"})},
     {"tokenizer_config.json": settings_record({"add_eos_token": True, "bos_token": "<s>"})},
     ["tokenizer_config.json: add_eos_token false → true"]),
    ("a key added and one removed", {"generation_config.json": settings_record({"eos_token_id": [2], "top_p": 0.9}, False)},
     {"generation_config.json": settings_record({"eos_token_id": [2, 4], "temperature": 0.6}, False)},
     ["generation_config.json: eos_token_id [2] → [2, 4]", "generation_config.json: temperature absent → 0.6",
      "generation_config.json: top_p 0.9 → absent"]),
    ("a large value is named, not shown", {"tokenizer_config.json": settings_record({"added_tokens_decoder": {str(i): {"content": f"<t{i}>"} for i in range(20)}})},
     {"tokenizer_config.json": settings_record({"added_tokens_decoder": {str(i): {"content": f"<t{i}>"} for i in range(21)}})},
     ["tokenizer_config.json: added_tokens_decoder changed"]),
    ("true is not 1", {"config.json": settings_record({"tie_word_embeddings": True}, False)},
     {"config.json": settings_record({"tie_word_embeddings": 1}, False)},
     ["config.json: tie_word_embeddings true → 1"]),
    ("a file known by its digest", {"tokenizer.json": {"sha256": SHA_A}}, {"tokenizer.json": {"sha256": SHA_B}}, ["tokenizer.json changed"]),
    ("files added and removed", {"vocab.json": {"sha256": SHA_A}, "merges.txt": {"sha256": SHA_A}},
     {"vocab.json": {"sha256": SHA_A}, "tokenizer.model": {"sha256": SHA_B}}, ["merges.txt removed", "tokenizer.model added"]),
    ("one line of the chat template", {"chat_template": _lines("{% for m in messages %}", "{{ m.content }}", "{% endfor %}")},
     {"chat_template": _lines("{% for m in messages %}", "{{ m.content | trim }}", "{% endfor %}")},
     ["chat_template: 1 line changed (line 2)"]),
    ("lines inserted and deleted", {"chat_template": _lines("a", "b", "c", "d")},
     {"chat_template": _lines("a", "x", "y", "c")}, ["chat_template: 3 lines changed (lines 2, 3, 5)"]),
    ("equal records: nothing", {"tokenizer.json": {"sha256": SHA_A}}, {"tokenizer.json": {"sha256": SHA_A}}, []),
    ("a card locked before per-file records", None, {"tokenizer.json": {"sha256": SHA_A}}, []),
    ("a record without values on one side", {"config.json": {"sha256": SHA_A}}, {"config.json": {"sha256": SHA_B, "values": {"a": 1}}},
     ["config.json changed"]),
]


@pytest.mark.parametrize(("locked", "found", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_changes(locked, found, expected):
    assert record_changes(locked, found) == expected


def test_many_changes_are_cut_with_a_count():
    locked = {f"shard-{i:02}.safetensors": {"sha256": SHA_A} for i in range(20)}
    found = {name: {"sha256": SHA_B} for name in locked}
    lines = record_changes(locked, found)
    assert len(lines) == MAX_CHANGES and lines[-1] == f"… and {20 - MAX_CHANGES + 1} more"


def test_a_named_template_starts_with_its_name():
    record = lines_record([("default", "a\nb"), ("tool_use", "c")], "tokenizer_config.json", SHA_A)
    assert record["lines"].split() == [line_hash("{# template default #}"), line_hash("a"), line_hash("b"),
                                       line_hash("{# template tool_use #}"), line_hash("c")]


def test_policies_call_it_as_a_function():
    expr = compile_expr("join('; ', record_changes(model_card.declared.files.tokenizer, runtime.tokenizer.per_file))")
    data = {"model_card": {"declared": {"files": {"tokenizer": {"tokenizer.json": {"sha256": SHA_A}}}}},
            "runtime": {"tokenizer": {"per_file": {"tokenizer.json": {"sha256": SHA_B}}}}}
    assert expr.search(data) == "tokenizer.json changed"
    data["model_card"]["declared"]["files"] = None
    assert expr.search(data) == ""
