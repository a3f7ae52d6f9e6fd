"""The fingerprint against what transformers really does with the files (no torch needed).

For every edit the fingerprint counts, transformers' output on a fixed probe text changes: the
ids of a plain encode, or (for the settings documented as not changing plain ids) the ids of a
truncating encode or the decoded text. For every edit it ignores, neither the ids, the
truncated ids, the decoded text nor the fingerprint change. Real files: the MiniLM (BERT
WordPiece, tokenizer.json + vocab.txt) and GPT-2 (vocab.json + merges.txt) tokenizers of
corpus/tokenizers/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from wfgy_rules.providers.model.hfmodel import describe_model_dir

try:
    from transformers import AutoTokenizer
except ImportError:  # transformers is in the `test` extra; the fingerprint itself never needs it
    pytest.skip("transformers is not installed (pip install -e '.[test]'): the behavioural probe needs it", allow_module_level=True)

CORPUS = Path(__file__).parent / "corpus" / "tokenizers"
PROBE = "Hello World, naïve café — don't STOP"
BERT = ("bert-minilm", ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"))
GPT2 = ("gpt2-trimmed", ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"))


def behaviour(directory: Path) -> dict:
    """What the tokenizer emits on the probe: plain ids, ids truncated to model_max_length, decoded text."""
    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    ids = tokenizer(PROBE)["input_ids"]
    return {
        "ids": ids,
        "truncated": tokenizer(PROBE, truncation=True)["input_ids"],
        "decoded": tokenizer.decode(ids, skip_special_tokens=True),
    }


def copy_tokenizer(tmp_path: Path, source: tuple[str, tuple[str, ...]]) -> Path:
    folder, names = source
    directory = tmp_path / "model"
    directory.mkdir()
    for name in names:
        shutil.copyfile(CORPUS / folder / name, directory / name)
    return directory


def edit(directory: Path, name: str, change) -> None:
    path = directory / name
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def observe(tmp_path, source, name, change):
    directory = copy_tokenizer(tmp_path, source)
    before = (behaviour(directory), describe_model_dir(directory)["tokenizer"]["sha256"])
    edit(directory, name, change)
    after = (behaviour(directory), describe_model_dir(directory)["tokenizer"]["sha256"])
    return before, after


@pytest.mark.parametrize(
    ("source", "name", "change", "changed"),
    [
        (BERT, "tokenizer_config.json", lambda d: d.update(do_lower_case=False), "ids"),  # "Hello" -> [UNK]
        (BERT, "special_tokens_map.json", lambda d: d.update(cls_token="[MASK]"), "ids"),  # leading 101 -> 103
        (GPT2, "tokenizer_config.json", lambda d: d.update(add_bos_token=True), "ids"),  # <|endoftext|> prepended
        (GPT2, "tokenizer_config.json", lambda d: d.update(add_eos_token=True), "ids"),  # <|endoftext|> appended
        (GPT2, "tokenizer_config.json", lambda d: d.update(add_prefix_space=True), "ids"),  # "Hello" -> " Hello"
        (BERT, "tokenizer_config.json", lambda d: d.update(model_max_length=6), "truncated"),  # plain ids unchanged
        (GPT2, "tokenizer_config.json", lambda d: d.update(model_max_length=6), "truncated"),
        (BERT, "tokenizer_config.json", lambda d: d.update(clean_up_tokenization_spaces=True), "decoded"),  # "don ' t" -> "don't"
    ],
    ids=["do_lower_case", "special-token", "add_bos_token", "add_eos_token", "add_prefix_space",
         "model_max_length-bert", "model_max_length-gpt2", "clean_up_tokenization_spaces"],
)
def test_a_counted_edit_changes_what_transformers_emits(tmp_path, source, name, change, changed):
    (behaviour_before, sha_before), (behaviour_after, sha_after) = observe(tmp_path, source, name, change)
    assert sha_after != sha_before
    assert behaviour_after[changed] != behaviour_before[changed]
    if changed != "ids":  # documented as not changing the ids of a plain encode, covered all the same
        assert behaviour_after["ids"] == behaviour_before["ids"]


def _reversed_keys(doc: dict) -> None:
    items = list(doc.items())
    doc.clear()
    doc.update(reversed(items))


@pytest.mark.parametrize(
    ("source", "name", "change"),
    [
        (BERT, "tokenizer_config.json", _reversed_keys),
        (BERT, "special_tokens_map.json", _reversed_keys),
        (GPT2, "tokenizer_config.json", _reversed_keys),
        (BERT, "tokenizer_config.json", lambda d: d.update(padding_side="left", truncation_side="left", pad_to_multiple_of=8)),
        (GPT2, "tokenizer_config.json", lambda d: d.update(name_or_path="/build/cache/gpt2", special_tokens_map_file="/tmp/x.json")),
        (BERT, "tokenizer_config.json", lambda d: d.update(chat_template="{% for m in messages %}{{ m.content }}{% endfor %}")),
    ],
    ids=["key-order-bert", "key-order-special-tokens", "key-order-gpt2", "padding-truncation-sides", "paths", "chat-template"],
)
def test_an_ignored_edit_changes_neither_the_ids_nor_the_fingerprint(tmp_path, source, name, change):
    before, after = observe(tmp_path, source, name, change)
    assert after == before


def test_whitespace_and_indentation_change_nothing(tmp_path):
    directory = copy_tokenizer(tmp_path, BERT)
    before = (behaviour(directory), describe_model_dir(directory)["tokenizer"]["sha256"])
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        path = directory / name
        path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8")), indent="\t") + "\n\n", encoding="utf-8")
    assert (behaviour(directory), describe_model_dir(directory)["tokenizer"]["sha256"]) == before
