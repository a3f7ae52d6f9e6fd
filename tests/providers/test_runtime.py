"""The runtime provider over real Hugging Face files: tokenizer.json written by `tokenizers`,
config files as transformers writes them, safetensors files written byte by byte."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from tokenizers import Tokenizer, models

from tests.helpers import reversed_keys
from wfgy_rules.providers import runtime
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.runtime import RuntimeProvider

pytestmark = pytest.mark.usefixtures("no_cuda")


def collect(base_dir: Path, environ: dict[str, str] | None = None, **config) -> dict:
    facts = RuntimeProvider().collect(config, ProviderContext(base_dir=base_dir, environ=environ or {}))
    assert json.loads(json.dumps(facts)) == facts  # JSON values only
    return facts


def model_facts(model_dir: Path) -> dict:
    return collect(model_dir.parent, model_dir=model_dir.name)["model_dir"]


def write_json(path: Path, doc: object) -> None:
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")


def test_a_complete_model_dir(hf_model_dir):
    facts = model_facts(hf_model_dir)
    shas = [facts["tokenizer"].pop("sha256"), facts["tokenizer"]["chat_template"].pop("sha256"), facts["checkpoint"].pop("sha256")]
    assert all(len(sha) == 64 and int(sha, 16) >= 0 for sha in shas) and len(set(shas)) == 3
    records = {section: facts[section].pop("per_file") for section in ("config", "tokenizer", "generation_config", "checkpoint")}
    records["chat_template"] = facts["tokenizer"]["chat_template"].pop("per_file")
    assert sorted(records["tokenizer"]) == ["tokenizer.json", "tokenizer_config.json"]
    assert records["tokenizer"]["tokenizer_config.json"]["values"]["eos_token"]["content"] == "<|eot_id|>"
    assert "chat_template" not in records["tokenizer"]["tokenizer_config.json"]["values"]  # it has its own fingerprint
    assert records["config"] == {"config.json": {"values": json.loads((hf_model_dir / "config.json").read_text())}}
    assert records["generation_config"] == {"generation_config.json": {"values": {"bos_token_id": 9, "eos_token_id": [10, 11]}}}
    assert list(records["checkpoint"]) == ["model.safetensors"] and len(records["checkpoint"]["model.safetensors"]["sha256"]) == 64
    chat_template = records["chat_template"]["chat_template"]
    assert (chat_template["source"], chat_template["sha256"], len(chat_template["lines"].split())) == ("tokenizer_config.json", shas[1], 1)
    assert facts == {
        "present": True,
        "path": "model",
        "error": None,
        "config": {
            "present": True,
            "vocab_size": 16,
            "bos_token_id": 9,
            "eos_token_ids": [10],
            "pad_token_id": None,
            "model_type": "llama",
            "transformers_version": "4.44.2",
        },
        "tokenizer": {
            "present": True,
            "format": "tokenizer.json",
            "files": ["tokenizer.json", "tokenizer_config.json"],
            "error": None,
            "vocab_size": 12,  # 9 BPE tokens + 3 added special tokens
            "max_id": 11,
            "added_tokens": 3,
            "model_type": "BPE",
            "bos_token": "<s>",
            "eos_token": "<|eot_id|>",
            "bos_token_id": 9,
            "eos_token_id": 11,
            "tokenizer_class": "PreTrainedTokenizerFast",
            "chat_template": {"present": True, "source": "tokenizer_config.json", "parseable": True, "error": None, "undeclared": []},
        },
        "generation_config": {"present": True, "eos_token_ids": [10, 11], "bos_token_id": 9},
        "checkpoint": {
            "present": True,
            "files": ["model.safetensors"],
            "tensors": 2,
            "embedding_tensor": "model.embed_tokens.weight",
            "embedding_rows": 16,
            "error": None,
        },
    }
    tokenizer = Tokenizer.from_file(str(hf_model_dir / "tokenizer.json"))
    assert tokenizer.token_to_id("<|eot_id|>") == facts["tokenizer"]["eos_token_id"]


@pytest.mark.parametrize(
    ("tokenizer", "model_type", "added"),
    [
        (Tokenizer(models.BPE(vocab={"<unk>": 0, "a": 1, "b": 2, "ab": 3}, merges=[("a", "b")], unk_token="<unk>")), "BPE", ["<s>"]),
        (Tokenizer(models.WordPiece({"[UNK]": 0, "[CLS]": 1, "hel": 2, "##lo": 3}, unk_token="[UNK]")), "WordPiece", ["[SEP]", "[MASK]"]),
        (Tokenizer(models.Unigram([("<unk>", 0.0), ("▁he", -1.5), ("llo", -2.5)], unk_id=0)), "Unigram", ["</s>"]),
        (Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1}, unk_token="[UNK]")), "WordLevel", []),
    ],
    ids=["bpe", "wordpiece", "unigram", "wordlevel"],
)
def test_vocab_size_counts_added_tokens_for_every_model_type(tmp_path, tokenizer, model_type, added):
    tokenizer.add_special_tokens(added)
    (tmp_path / "model").mkdir()
    tokenizer.save(str(tmp_path / "model" / "tokenizer.json"))
    facts = model_facts(tmp_path / "model")["tokenizer"]
    assert (facts["model_type"], facts["added_tokens"]) == (model_type, len(added))
    assert facts["vocab_size"] == tokenizer.get_vocab_size(with_added_tokens=True)
    assert facts["max_id"] == facts["vocab_size"] - 1



def test_fingerprint_is_sha256_of_the_canonical_document(hf_model_dir):
    doc = json.loads((hf_model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    doc["padding"] = doc["truncation"] = None
    config = json.loads((hf_model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    del config["chat_template"]  # it has a fingerprint of its own
    document = {"vocabularies": {"tokenizer.json": doc}, "tokenizer_config.json": config}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert model_facts(hf_model_dir)["tokenizer"]["sha256"] == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_fingerprint_ignores_key_order_whitespace_padding_and_truncation(hf_model_dir, bpe_tokenizer):
    before = model_facts(hf_model_dir)["tokenizer"]["sha256"]
    path = hf_model_dir / "tokenizer.json"
    path.write_text(json.dumps(reversed_keys(json.loads(path.read_text(encoding="utf-8")))), encoding="utf-8")
    assert model_facts(hf_model_dir)["tokenizer"]["sha256"] == before
    tokenizer = bpe_tokenizer()
    tokenizer.enable_padding(pad_id=9, pad_token="<s>")
    tokenizer.enable_truncation(max_length=8)
    tokenizer.save(str(path))
    assert json.loads(path.read_text(encoding="utf-8"))["truncation"] is not None
    assert model_facts(hf_model_dir)["tokenizer"]["sha256"] == before


def test_fingerprint_of_a_vocabulary_with_a_lone_surrogate(hf_model_dir):
    path = hf_model_dir / "tokenizer.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"hello": 8', '"\\ud83d": 8'), encoding="utf-8")
    assert len(model_facts(hf_model_dir)["tokenizer"]["sha256"]) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"merges": [("h", "e"), ("l", "l"), ("he", "ll")]},  # one merge fewer
        {"vocab": {"<unk>": 0, "h": 1, "e": 2, "l": 3, "o": 4, "he": 5, "ll": 6, "hell": 7, "hello": 8, "x": 9}},
    ],
    ids=["merge-removed", "vocab-token-added"],
)
def test_fingerprint_changes_with_the_vocabulary(hf_model_dir, bpe_tokenizer, change):
    before = model_facts(hf_model_dir)["tokenizer"]["sha256"]
    bpe_tokenizer(**change).save(str(hf_model_dir / "tokenizer.json"))
    assert model_facts(hf_model_dir)["tokenizer"]["sha256"] != before


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"eos_token_id": [128001, 128009]}, {"eos_token_ids": [128001, 128009], "vocab_size": None}),
        ({"model_type": "bert"}, {"eos_token_ids": [], "bos_token_id": None, "model_type": "bert"}),
        (  # multimodal: the language model's numbers live under text_config
            {"model_type": "llava", "text_config": {"vocab_size": 32064, "eos_token_id": 2, "pad_token_id": 32001}},
            {"vocab_size": 32064, "eos_token_ids": [2], "pad_token_id": 32001, "model_type": "llava"},
        ),
        ({"vocab_size": 151936, "text_config": {"vocab_size": 32064}}, {"vocab_size": 151936}),
    ],
    ids=["eos-list", "no-eos", "text-config", "top-level-wins"],
)
def test_config_facts(hf_model_dir, config, expected):
    write_json(hf_model_dir / "config.json", config)
    facts = model_facts(hf_model_dir)["config"]
    assert {key: facts[key] for key in expected} == expected


def test_absent_files_are_facts(hf_model_dir):
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        (hf_model_dir / name).unlink()
    facts = model_facts(hf_model_dir)
    assert facts["config"]["present"] is False and facts["config"]["eos_token_ids"] == []
    assert facts["generation_config"] == {"present": False, "eos_token_ids": [], "bos_token_id": None, "per_file": {}}
    assert facts["config"]["per_file"] == {} and facts["tokenizer"]["per_file"] == {}
    assert facts["tokenizer"]["present"] is False
    assert {facts["tokenizer"][key] for key in ("sha256", "format", "vocab_size", "added_tokens", "eos_token")} == {None}
    assert facts["tokenizer"]["chat_template"]["present"] is False and facts["tokenizer"]["chat_template"]["sha256"] is None


def test_special_tokens_fall_back_to_special_tokens_map(hf_model_dir):
    write_json(hf_model_dir / "tokenizer_config.json", {"bos_token": None})
    write_json(hf_model_dir / "special_tokens_map.json", {"bos_token": {"content": "<s>"}, "eos_token": "</s>"})
    facts = model_facts(hf_model_dir)["tokenizer"]
    assert (facts["bos_token"], facts["bos_token_id"], facts["eos_token"], facts["eos_token_id"]) == ("<s>", 9, "</s>", 10)


def test_a_special_token_missing_from_the_vocabulary_has_no_id(hf_model_dir):
    write_json(hf_model_dir / "tokenizer_config.json", {"eos_token": "<|im_end|>"})
    facts = model_facts(hf_model_dir)["tokenizer"]
    assert (facts["eos_token"], facts["eos_token_id"]) == ("<|im_end|>", None)


BROKEN = "{% for m in messages %}\n{{ m.content }\n{% endfor %}"  # line 2: unexpected '}'
STRAY = "{% if tools %}{{ tools }}{% endif %}{% for m in messages %}{{ m.content + datetime }}{% endfor %}"
FINE = "{% for m in messages %}{% if m.role == 'stop' %}{% break %}{% endif %}{% generation %}{{ m.content }}{% endgeneration %}{% endfor %}"


@pytest.mark.parametrize(
    ("in_config", "jinja_file", "expected"),
    [
        (None, None, {"present": False, "source": None, "parseable": None, "error": None, "undeclared": []}),
        (FINE, None, {"present": True, "source": "tokenizer_config.json", "parseable": True, "error": None, "undeclared": []}),
        (BROKEN, None, {"present": True, "source": "tokenizer_config.json", "parseable": False, "error": {"line": 2, "message": "unexpected '}'"}, "undeclared": []}),
        (None, "\n" + BROKEN, {"present": True, "source": "chat_template.jinja", "parseable": False, "error": {"line": 3, "message": "unexpected '}'"}, "undeclared": []}),
        (BROKEN, FINE, {"present": True, "source": "chat_template.jinja", "parseable": True, "error": None, "undeclared": []}),
        (STRAY, None, {"present": True, "source": "tokenizer_config.json", "parseable": True, "error": None, "undeclared": ["datetime"]}),
        (
            [{"name": "default", "template": FINE}, {"name": "tool_use", "template": BROKEN}],
            None,
            {"present": True, "source": "tokenizer_config.json", "parseable": False, "error": {"line": 2, "message": "template 'tool_use': unexpected '}'"}, "undeclared": []},
        ),
    ],
    ids=["none", "parseable", "broken", "jinja-file", "jinja-file-wins", "stray-name", "named-templates"],
)
def test_chat_template(hf_model_dir, in_config, jinja_file, expected):
    write_json(hf_model_dir / "tokenizer_config.json", {} if in_config is None else {"chat_template": in_config})
    if jinja_file is not None:
        (hf_model_dir / "chat_template.jinja").write_text(jinja_file, encoding="utf-8")
    facts = model_facts(hf_model_dir)["tokenizer"]["chat_template"]
    sha = facts.pop("sha256")
    assert (sha is not None) == expected["present"]
    record = facts.pop("per_file").get("chat_template")
    assert facts == expected
    assert record is None if sha is None else (record["source"], record["sha256"]) == (facts["source"], sha)


def test_chat_template_fingerprint(hf_model_dir):
    """Its own fingerprint: every character counts, where it is stored does not, and the
    tokenizer fingerprint does not move when only the template changes."""
    def shas():
        facts = model_facts(hf_model_dir)["tokenizer"]
        return facts["chat_template"]["sha256"], facts["sha256"]

    write_json(hf_model_dir / "tokenizer_config.json", {"eos_token": "</s>", "chat_template": FINE})
    template, tokenizer = shas()
    assert template == hashlib.sha256(json.dumps([[None, FINE]], separators=(",", ":")).encode()).hexdigest()
    (hf_model_dir / "chat_template.jinja").write_text(FINE, encoding="utf-8")  # moved to its own file
    assert shas() == (template, tokenizer)
    (hf_model_dir / "chat_template.jinja").write_text(FINE.replace("}}{%", "}} {%"), encoding="utf-8")  # one space
    assert shas()[0] != template and shas()[1] == tokenizer


def test_embedding_rows_from_a_sharded_checkpoint(hf_model_dir, write_safetensors):
    (hf_model_dir / "model.safetensors").unlink()
    shards = {
        "model-00001-of-00002.safetensors": {"model.layers.0.mlp.up_proj.weight": [8, 4]},
        "model-00002-of-00002.safetensors": {"model.embed_tokens.weight": [32, 4], "lm_head.weight": [32, 4]},
    }
    for name, shapes in shards.items():
        write_safetensors(hf_model_dir / name, shapes)
    weight_map = {tensor: name for name, shapes in shards.items() for tensor in shapes}
    write_json(hf_model_dir / "model.safetensors.index.json", {"metadata": {"total_size": 576}, "weight_map": weight_map})
    facts = model_facts(hf_model_dir)["checkpoint"]
    sha = facts.pop("sha256")
    per_file = facts.pop("per_file")
    assert facts == {
        "present": True,
        "files": sorted(shards),
        "tensors": 3,
        "embedding_tensor": "model.embed_tokens.weight",
        "embedding_rows": 32,
        "error": None,
    }
    assert list(per_file) == ["model.safetensors.index.json", *sorted(shards)]  # what each file holds of the fingerprint
    assert per_file["model-00001-of-00002.safetensors"]["sha256"] == hashlib.sha256(
        b'{"model.layers.0.mlp.up_proj.weight":["F16",[8,4]]}').hexdigest()
    expected = {"lm_head.weight": ["F16", [32, 4]], "model.embed_tokens.weight": ["F16", [32, 4]], "model.layers.0.mlp.up_proj.weight": ["F16", [8, 4]]}
    assert sha == hashlib.sha256(json.dumps(expected, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    (hf_model_dir / "model.safetensors.index.json").unlink()  # no index: every header is read
    unindexed = model_facts(hf_model_dir)["checkpoint"]
    assert unindexed == {**facts, "sha256": sha, "per_file": {name: per_file[name] for name in shards}}
    for name in shards:  # re-sharded into one file: the same checkpoint
        (hf_model_dir / name).unlink()
    write_safetensors(hf_model_dir / "model.safetensors", {t: shape for shapes in reversed(shards.values()) for t, shape in shapes.items()})
    assert model_facts(hf_model_dir)["checkpoint"]["sha256"] == sha


@pytest.mark.parametrize(
    "shapes",
    [
        {"model.embed_tokens.weight": [16, 8], "lm_head.weight": [16, 4]},  # re-shaped
        {"model.embed_tokens.weight": [16, 4]},  # a tensor fewer
        {"model.embed_tokens.weight": [16, 4], "output.weight": [16, 4]},  # renamed
    ],
    ids=["reshaped", "removed", "renamed"],
)
def test_checkpoint_fingerprint_changes_with_the_tensors(hf_model_dir, write_safetensors, shapes):
    before = model_facts(hf_model_dir)["checkpoint"]["sha256"]
    write_safetensors(hf_model_dir / "model.safetensors", shapes)
    assert model_facts(hf_model_dir)["checkpoint"]["sha256"] != before


def test_checkpoint_fingerprint_ignores_metadata_and_data(hf_model_dir):
    path = hf_model_dir / "model.safetensors"
    before = model_facts(hf_model_dir)["checkpoint"]["sha256"]
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + size])
    header["__metadata__"] = {"format": "pt", "trained_by": "someone else"}
    encoded = json.dumps(header, indent=1).encode()
    path.write_bytes(len(encoded).to_bytes(8, "little") + encoded + b"\x01" * (len(raw) - 8 - size))  # other weights
    assert model_facts(hf_model_dir)["checkpoint"]["sha256"] == before


def test_checkpoint_fingerprint_dtype_from_a_real_header(tmp_path):
    """The MiniLM header (corpus/tokenizers/bert-minilm): 104 tensors; its data is not in the corpus."""
    header = (Path(__file__).parent / "corpus" / "tokenizers" / "bert-minilm" / "safetensors_header.json").read_bytes()
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    facts = model_facts(tmp_path / "model")["checkpoint"]
    assert (facts["tensors"], facts["embedding_tensor"], facts["embedding_rows"], facts["error"]) == (104, "embeddings.word_embeddings.weight", 30522, None)
    doc = json.loads(header)
    for entry in doc.values():
        if isinstance(entry, dict) and entry.get("dtype") == "F32":
            entry["dtype"] = "F16"  # the same model, re-saved in half precision
    converted = json.dumps(doc).encode()
    (tmp_path / "model" / "model.safetensors").write_bytes(len(converted).to_bytes(8, "little") + converted)
    assert model_facts(tmp_path / "model")["checkpoint"]["sha256"] != facts["sha256"]


def test_a_real_index_naming_absent_shards_is_a_fact(tmp_path, write_safetensors):
    """granite-3b-code-instruct-128k's index (514 tensors in two shards); the shards are not in the corpus."""
    directory = tmp_path / "model"
    directory.mkdir()
    shutil.copyfile(Path(__file__).parent / "corpus" / "tokenizers" / "granite" / "model.safetensors.index.json", directory / "model.safetensors.index.json")
    weight_map = json.loads((directory / "model.safetensors.index.json").read_text(encoding="utf-8"))["weight_map"]
    first_shard = {name: [1] for name, file in weight_map.items() if file == "model-00001-of-00002.safetensors"}
    assert (len(weight_map), len(first_shard)) == (514, 363)
    write_safetensors(directory / "model-00001-of-00002.safetensors", first_shard)
    facts = model_facts(directory)["checkpoint"]
    assert facts["sha256"] is None
    missing = min(name for name, file in weight_map.items() if file == "model-00002-of-00002.safetensors")
    assert facts["error"] == (f"model.safetensors.index.json: {missing} is in 'model-00002-of-00002.safetensors', "
                              "which is not a safetensors file of the model directory")


def test_an_index_naming_a_tensor_its_shard_lacks_is_a_fact(hf_model_dir):
    write_json(hf_model_dir / "model.safetensors.index.json", {"weight_map": {"model.norm.weight": "model.safetensors"}})
    assert model_facts(hf_model_dir)["checkpoint"]["error"] == "model.safetensors.index.json: model.norm.weight is not in the header of model.safetensors"


@pytest.mark.parametrize(
    ("shapes", "tensor", "rows"),
    [
        ({"transformer.wpe.weight": [1024, 4], "transformer.wte.weight": [50257, 4]}, "transformer.wte.weight", 50257),
        (
            {"bert.embeddings.position_embeddings.weight": [512, 4], "bert.embeddings.word_embeddings.weight": [30522, 4]},
            "bert.embeddings.word_embeddings.weight",
            30522,
        ),
        ({"tok_embeddings.weight": [32000, 4], "output.weight": [32000, 4]}, "tok_embeddings.weight", 32000),
        ({"lm_head.weight": [16, 4]}, None, None),
    ],
    ids=["gpt2", "bert-not-position-embeddings", "llama-original", "no-embedding"],
)
def test_the_input_embedding_is_found_by_name(hf_model_dir, write_safetensors, shapes, tensor, rows):
    write_safetensors(hf_model_dir / "model.safetensors", shapes)
    facts = model_facts(hf_model_dir)["checkpoint"]
    assert (facts["embedding_tensor"], facts["embedding_rows"]) == (tensor, rows)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"\x10\x00", "model.safetensors: shorter than the 8-byte header length"),
        ((2**40).to_bytes(8, "little"), f"model.safetensors: header of {2**40} bytes is over the {100 * 1024 * 1024}-byte limit"),
        ((64).to_bytes(8, "little") + b'{"a": 1}', "model.safetensors: header is truncated (8 of 64 bytes)"),
        ((4).to_bytes(8, "little") + b"[1] ", "model.safetensors: header is not a JSON object"),
    ],
    ids=["short", "huge-header", "truncated", "not-an-object"],
)
def test_an_unreadable_safetensors_header_is_a_fact(hf_model_dir, content, error):
    (hf_model_dir / "model.safetensors").write_bytes(content)
    facts = model_facts(hf_model_dir)
    assert facts["checkpoint"] == {"present": True, "files": ["model.safetensors"], "tensors": None, "sha256": None,
                                   "embedding_tensor": None, "embedding_rows": None, "error": error, "per_file": {}}
    assert facts["tokenizer"]["vocab_size"] == 12  # the rest of the directory is still described


def test_an_index_naming_a_missing_shard_is_a_fact(hf_model_dir):
    write_json(hf_model_dir / "model.safetensors.index.json", {"weight_map": {"model.embed_tokens.weight": "model-00002-of-00002.safetensors"}})
    assert model_facts(hf_model_dir)["checkpoint"]["error"] == (
        "model.safetensors.index.json: model.embed_tokens.weight is in 'model-00002-of-00002.safetensors', "
        "which is not a safetensors file of the model directory"
    )


def test_no_checkpoint(hf_model_dir):
    (hf_model_dir / "model.safetensors").unlink()
    assert model_facts(hf_model_dir)["checkpoint"] == {"present": False, "files": [], "tensors": None, "sha256": None,
                                                       "embedding_tensor": None, "embedding_rows": None, "error": None,
                                                       "per_file": {}}


_SECTION = {"config.json": "config", "tokenizer.json": "tokenizer", "tokenizer_config.json": "tokenizer",
            "generation_config.json": "generation_config", "special_tokens_map.json": "tokenizer",
            "model.safetensors.index.json": "checkpoint"}


@pytest.mark.parametrize(
    "name",
    ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json", "model.safetensors.index.json"],
)
def test_malformed_json_names_the_file_and_line(hf_model_dir, name):
    """The problem stays in the damaged file's own section; the other sections are read."""
    path = hf_model_dir / name
    path.write_text('{\n  "model_type": "llama"\n  "vocab_size": 16\n}\n', encoding="utf-8")
    facts = model_facts(hf_model_dir)
    assert facts[_SECTION[name]]["error"].startswith(f"{path}:3:3: invalid JSON") or name == "model.safetensors.index.json"
    assert f"{path}:3:3" in facts[_SECTION[name]]["error"]
    others = [s for s in ("config", "tokenizer", "generation_config") if s != _SECTION[name]]
    assert all(not facts[s].get("error") for s in others)


def test_a_json_file_that_is_not_an_object(hf_model_dir):
    (hf_model_dir / "config.json").write_text("[16]\n", encoding="utf-8")
    facts = model_facts(hf_model_dir)
    assert facts["config"]["error"].endswith("config.json:1:1: expected a JSON object")
    assert facts["config"]["vocab_size"] is None and facts["tokenizer"]["sha256"]


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        (None, {"present": False, "path": None, "error": None}),
        ("./models", {"present": False, "path": "./models", "error": "model_dir ./models does not exist (relative to wfgy.yaml)"}),
        ("card.json", {"present": False, "path": "card.json", "error": "model_dir card.json is not a directory (relative to wfgy.yaml)"}),
        ("/no/such/model", {"present": False, "path": "/no/such/model", "error": "model_dir /no/such/model does not exist"}),
    ],
    ids=["not-configured", "missing", "a-file", "absolute"],
)
def test_no_model_dir(tmp_path, configured, expected):
    (tmp_path / "card.json").write_text("{}")
    config = {} if configured is None else {"model_dir": configured}
    facts = collect(tmp_path, **config)
    assert facts["model_dir"] == expected
    assert facts["packages"]["tokenizers"] is not None  # the other facts stay usable


def test_python_and_packages(tmp_path):
    import tokenizers

    facts = collect(tmp_path)
    assert facts["python"] == platform.python_version() == "{}.{}.{}".format(*sys.version_info[:3])
    assert list(facts["packages"]) == ["torch", "transformers", "tokenizers", "vllm", "sglang", "text-generation-server"]
    assert facts["packages"]["tokenizers"] == tokenizers.__version__
    chosen = collect(tmp_path, packages=["PyYAML", "wfgy-no-such-package", "sglang"])["packages"]
    assert chosen == {"PyYAML": yaml.__version__, "wfgy-no-such-package": None, "sglang": None, "vllm": None, "text-generation-server": None}
    assert list(chosen)[:3] == ["PyYAML", "wfgy-no-such-package", "sglang"]  # the engines follow, each once


TORCH_VERSION_PY = "from typing import Optional\n\n__version__ = '2.3.1+{build}'\ndebug = False\ncuda: Optional[str] = {cuda!r}\nhip: Optional[str] = None\n"


@pytest.mark.parametrize(
    ("torch_cuda", "environ", "version_json", "expected"),
    [
        ("absent", {}, None, {"compiled": None, "source": None}),
        ("absent", {}, {"cuda": {"version": "12.6.20241114"}, "cuda_cudart": {"version": "12.6.77"}}, {"compiled": "12.6", "source": "version.json"}),
        ("absent", {"CUDA_VERSION": "12.2.2"}, {"cuda": {"version": "12.6.20241114"}}, {"compiled": "12.2", "source": "CUDA_VERSION"}),
        ("absent", {"CUDA_VERSION": ""}, {"cuda": {"version": "11.8.0"}}, {"compiled": "11.8", "source": "version.json"}),
        ("absent", {}, "{not json", {"compiled": None, "source": None}),
        ("12.1", {"CUDA_VERSION": "12.2.2"}, {"cuda": {"version": "12.6.0"}}, {"compiled": "12.1", "source": "torch"}),
        (None, {"CUDA_VERSION": "12.2.2"}, {"cuda": {"version": "12.6.0"}}, {"compiled": None, "source": "torch"}),
    ],
    ids=["nothing", "version-json", "env-before-version-json", "empty-env", "broken-version-json", "torch-first", "cpu-torch"],
)
def test_cuda_sources_in_order(tmp_path, monkeypatch, torch_cuda, environ, version_json, expected):
    if version_json is not None:
        runtime.CUDA_VERSION_JSON.parent.mkdir(parents=True)
        runtime.CUDA_VERSION_JSON.write_text(version_json if isinstance(version_json, str) else json.dumps(version_json))
    if torch_cuda != "absent":
        package = tmp_path / "site" / "torch"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("raise ImportError('the runtime provider must not import torch')\n")
        (package / "version.py").write_text(TORCH_VERSION_PY.format(build="cu121" if torch_cuda else "cpu", cuda=torch_cuda))
        monkeypatch.delitem(sys.modules, "torch")
        monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert collect(tmp_path, environ)["cuda"] == expected


def test_config_schema():
    schema = RuntimeProvider.config_schema
    Draft202012Validator.check_schema(schema)
    assert all(prop.get("title") and prop.get("description") for prop in schema["properties"].values())
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"packages": ["torch", "vllm"], "model_dir": "./model"})
    assert not validator.is_valid({"model-dir": "./model"})


def test_torch_build_from_a_real_version_py(tmp_path, monkeypatch):
    """torch 2.13.0+cpu's own torch/version.py (corpus/tokenizers/torch_version.py), found and parsed, never imported."""
    assert collect(tmp_path)["torch_build"] == {"present": False, "version": None, "git_version": None}
    package = tmp_path / "site" / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('the runtime provider must not import torch')\n")
    shutil.copyfile(Path(__file__).parent / "corpus" / "tokenizers" / "torch_version.py", package / "version.py")
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    facts = collect(tmp_path)
    assert facts["torch_build"] == {"present": True, "version": "2.13.0+cpu", "git_version": "cf30153c4c131c8164ee7798e5022d810682e2cb"}
    assert facts["cuda"] == {"compiled": None, "source": "torch"}
    (package / "version.py").write_text("__version__ = '2.3.1'\ngit_version = compute()\n")  # not a constant: null
    assert collect(tmp_path)["torch_build"] == {"present": True, "version": "2.3.1", "git_version": None}
