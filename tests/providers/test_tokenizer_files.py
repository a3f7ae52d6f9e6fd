"""The tokenizer fingerprint over real tokenizer files of every format (corpus/tokenizers/README.md)
and over model directories written by the `tokenizers` library in its four model types."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models

from tests.helpers import reversed_keys
from wfgy_rules.providers.model.hfmodel import describe_model_dir

CORPUS = Path(__file__).parent / "corpus" / "tokenizers"
FACT_KEYS = ("present", "format", "files", "error", "vocab_size", "max_id", "model_type", "bos_token", "bos_token_id", "eos_token", "eos_token_id")


def model_dir(tmp_path: Path, files: dict[str, Path | str]) -> Path:
    """A model directory holding ``{name: corpus file or text}``."""
    directory = tmp_path / "model"
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        if isinstance(source, Path):
            shutil.copyfile(source, directory / name)
        else:
            (directory / name).write_text(source, encoding="utf-8")
    return directory


def tokenizer_facts(directory: Path) -> dict:
    return describe_model_dir(directory)["tokenizer"]


# The verdicts below were written by hand from each file's origin (README.md), not read back.
REAL = {
    "sentencepiece-unigram": (
        {"tokenizer.model": CORPUS / "sentencepiece" / "botchan_en_unigram_1000.model"},
        ("sentencepiece", ["tokenizer.model"], 1000, "UNIGRAM", "<s>", 1, "</s>", 2),
    ),
    "sentencepiece-bpe": (
        {"tokenizer.model": CORPUS / "sentencepiece" / "botchan_en_bpe_1000.model"},
        ("sentencepiece", ["tokenizer.model"], 1000, "BPE", "<s>", 1, "</s>", 2),
    ),
    "mistral-v3": (
        {"tokenizer.model.v3": CORPUS / "mistral" / "mistral_instruct_tokenizer_240323.model.v3"},
        ("sentencepiece", ["tokenizer.model.v3"], 32768, "BPE", "<s>", 1, "</s>", 2),
    ),
    "tekken": (
        {"tekken.json": CORPUS / "tekken-trimmed" / "tekken.json"},
        ("tekken", ["tekken.json"], 1400, "BPE", None, None, None, None),  # 1000 special + 400 kept ranks
    ),
    "gpt2-bpe": (
        {name: CORPUS / "gpt2-trimmed" / name for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")},
        ("gpt2-bpe", ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"], 50257, "BPE",
         "<|endoftext|>", 50256, "<|endoftext|>", 50256),
    ),
    "wordpiece": (
        {name: CORPUS / "bert-minilm" / name for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json")},
        ("wordpiece", ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"], 30522, "WordPiece", None, None, None, None),
    ),
    "bert-fast": (
        {name: CORPUS / "bert-minilm" / name for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")},
        ("tokenizer.json", ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"], 30522, "WordPiece",
         None, None, None, None),
    ),
}


@pytest.mark.parametrize("case", list(REAL))
def test_real_tokenizer_files(tmp_path, case):
    files, (fmt, covered, vocab_size, model_type, bos, bos_id, eos, eos_id) = REAL[case]
    facts = tokenizer_facts(model_dir(tmp_path, files))
    assert {key: facts[key] for key in FACT_KEYS} == {
        "present": True, "format": fmt, "files": covered, "error": None, "vocab_size": vocab_size, "max_id": vocab_size - 1,
        "model_type": model_type, "bos_token": bos, "bos_token_id": bos_id, "eos_token": eos, "eos_token_id": eos_id,
    }
    assert len(facts["sha256"]) == 64


def test_each_format_has_its_own_fingerprint(tmp_path):
    shas = {case: tokenizer_facts(model_dir(tmp_path / case, files))["sha256"] for case, (files, _) in REAL.items()}
    assert len(set(shas.values())) == len(shas)


def test_the_fingerprint_fits_the_embedding_rule_for_sentencepiece(tmp_path):
    directory = model_dir(tmp_path, {"tokenizer.model": REAL["sentencepiece-bpe"][0]["tokenizer.model"]})
    (directory / "config.json").write_text(json.dumps({"vocab_size": 1000}), encoding="utf-8")
    (directory / "tokenizer_config.json").write_text(json.dumps({"added_tokens_decoder": {"1000": {"content": "<pad>"}}}), encoding="utf-8")
    facts = tokenizer_facts(directory)
    assert (facts["vocab_size"], facts["max_id"]) == (1001, 1000)  # an added token beyond config.vocab_size: the rule fails


# --- what changes the fingerprint, and what does not -------------------------------------------------

def bert_dir(tmp_path: Path) -> Path:
    return model_dir(tmp_path, {name: CORPUS / "bert-minilm" / name for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")})


def edit_json(path: Path, change) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("tokenizer_config.json", lambda d: d.update(do_lower_case=False)),
        ("tokenizer_config.json", lambda d: d.update(add_bos_token=True)),
        ("tokenizer_config.json", lambda d: d.update(add_eos_token=True)),
        ("tokenizer_config.json", lambda d: d.update(model_max_length=256)),
        ("tokenizer_config.json", lambda d: d.update(clean_up_tokenization_spaces=False)),
        ("tokenizer_config.json", lambda d: d.update(tokenizer_class="BertTokenizerFast")),
        ("special_tokens_map.json", lambda d: d.update(cls_token="[SEP]")),
        ("tokenizer.json", lambda d: d["normalizer"].update(lowercase=False)),
    ],
    ids=["do_lower_case", "add_bos_token", "add_eos_token", "model_max_length", "clean_up_tokenization_spaces",
         "tokenizer_class", "special-token", "tokenizer.json-normalizer"],
)
def test_an_id_relevant_edit_changes_the_fingerprint(tmp_path, name, change):
    directory = bert_dir(tmp_path)
    before = tokenizer_facts(directory)["sha256"]
    edit_json(directory / name, change)
    assert tokenizer_facts(directory)["sha256"] != before



@pytest.mark.parametrize(
    ("name", "rewrite"),
    [
        ("tokenizer_config.json", lambda text: json.dumps(reversed_keys(json.loads(text)), indent=4)),
        ("tokenizer.json", lambda text: json.dumps(reversed_keys(json.loads(text)))),
        ("special_tokens_map.json", lambda text: "\ufeff" + json.dumps(json.loads(text), indent="\t") + "\r\n"),
        ("tokenizer_config.json", lambda text: json.dumps({**json.loads(text), "padding_side": "left", "truncation_side": "left",
                                                           "name_or_path": "/build/cache/minilm", "tokenizer_file": None})),
        ("tokenizer_config.json", lambda text: json.dumps({**json.loads(text), "chat_template": "{{ messages }}"})),
        ("tokenizer_config.json", lambda text: json.dumps({**json.loads(text), "never_split": None, "pad_token": None} | {"pad_token": "[PAD]"})),
        ("tokenizer.json", lambda text: json.dumps({**json.loads(text), "padding": {"strategy": "BatchLongest", "pad_id": 0},
                                                    "truncation": {"max_length": 8, "strategy": "LongestFirst", "stride": 0}})),
    ],
    ids=["key-order-indent", "tokenizer.json-key-order", "bom-tabs-crlf", "runtime-and-path-keys", "chat-template",
         "null-values", "tokenizer.json-padding-truncation"],
)
def test_a_formatting_or_runtime_edit_keeps_the_fingerprint(tmp_path, name, rewrite):
    directory = bert_dir(tmp_path)
    before = tokenizer_facts(directory)["sha256"]
    path = directory / name
    path.write_text(rewrite(path.read_text(encoding="utf-8")), encoding="utf-8")
    assert tokenizer_facts(directory)["sha256"] == before


def test_vocabulary_files_are_read_as_their_loaders_read_them(tmp_path):
    gpt2 = model_dir(tmp_path / "gpt2", {name: CORPUS / "gpt2-trimmed" / name for name in ("vocab.json", "merges.txt")})
    before = tokenizer_facts(gpt2)["sha256"]
    merges = (gpt2 / "merges.txt").read_text(encoding="utf-8")
    (gpt2 / "merges.txt").write_text(merges.replace("\n", "\r\n") + "\n\n", encoding="utf-8")  # CRLF, blank lines
    assert tokenizer_facts(gpt2)["sha256"] == before
    lines = merges.split("\n")
    (gpt2 / "merges.txt").write_text("\n".join([lines[0], lines[2], lines[1], *lines[3:]]), encoding="utf-8")  # merge priority
    assert tokenizer_facts(gpt2)["sha256"] != before

    bert = model_dir(tmp_path / "bert", {"vocab.txt": CORPUS / "bert-minilm" / "vocab.txt"})
    before = tokenizer_facts(bert)["sha256"]
    vocab = (bert / "vocab.txt").read_text(encoding="utf-8")
    (bert / "vocab.txt").write_bytes(vocab.replace("\n", "\r\n").encode())  # text mode reads CRLF as LF
    assert tokenizer_facts(bert)["sha256"] == before
    (bert / "vocab.txt").write_text(vocab.replace("hello\n", "hallo\n"), encoding="utf-8")
    assert tokenizer_facts(bert)["sha256"] != before


def test_every_vocabulary_file_present_is_covered(tmp_path):
    directory = bert_dir(tmp_path)
    fast_only = tokenizer_facts(directory)["sha256"]
    shutil.copyfile(CORPUS / "bert-minilm" / "vocab.txt", directory / "vocab.txt")
    both = tokenizer_facts(directory)
    assert both["sha256"] != fast_only and both["format"] == "tokenizer.json"
    (directory / "vocab.txt").write_text("[PAD]\n[UNK]\n", encoding="utf-8")  # the slow tokenizer's file swapped
    assert tokenizer_facts(directory)["sha256"] != both["sha256"]


@pytest.mark.parametrize(
    ("tokenizer", "model_type"),
    [
        (Tokenizer(models.BPE(vocab={"<unk>": 0, "a": 1, "b": 2, "ab": 3}, merges=[("a", "b")], unk_token="<unk>")), "BPE"),
        (Tokenizer(models.WordPiece({"[UNK]": 0, "[CLS]": 1, "hel": 2, "##lo": 3}, unk_token="[UNK]")), "WordPiece"),
        (Tokenizer(models.Unigram([("<unk>", 0.0), ("▁he", -1.5), ("llo", -2.5)], unk_id=0)), "Unigram"),
        (Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1}, unk_token="[UNK]")), "WordLevel"),
    ],
    ids=["bpe", "wordpiece", "unigram", "wordlevel"],
)
def test_tokenizers_library_dirs_of_every_model_type(tmp_path, tokenizer, model_type):
    tokenizer.add_special_tokens(["<|eot_id|>"])
    directory = tmp_path / "model"
    directory.mkdir()
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|eot_id|>", "add_eos_token": False}), encoding="utf-8")
    facts = tokenizer_facts(directory)
    assert (facts["format"], facts["model_type"], facts["eos_token_id"]) == ("tokenizer.json", model_type, tokenizer.token_to_id("<|eot_id|>"))
    assert facts["vocab_size"] == tokenizer.get_vocab_size(with_added_tokens=True)
    before = facts["sha256"]
    tokenizer.save(str(directory / "tokenizer.json"), pretty=False)  # the same tokenizer, other formatting
    assert tokenizer_facts(directory)["sha256"] == before
    (directory / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|eot_id|>", "add_eos_token": True}), encoding="utf-8")
    assert tokenizer_facts(directory)["sha256"] != before


# --- nothing to fingerprint, or a file that is not of its format ---------------------------------

def test_no_vocabulary_file(tmp_path):
    directory = model_dir(tmp_path, {"tokenizer_config.json": CORPUS / "bert-minilm" / "tokenizer_config.json"})
    facts = tokenizer_facts(directory)
    assert (facts["present"], facts["format"], facts["sha256"], facts["files"], facts["error"], facts["vocab_size"]) == (False, None, None, [], None, None)


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"tokenizer.model": (CORPUS / "sentencepiece" / "botchan_en_bpe_1000.model").read_bytes()[:251000]},
         "tokenizer.model: field 3 at byte 13979 claims 237581 bytes; 237017 are left"),
        ({"tokenizer.model": b""}, "tokenizer.model: no pieces (not a SentencePiece model?)"),
        ({"vocab.json": b'{"a": "0"}', "merges.txt": b"#version: 0.2\n"}, "vocab.json: expected {token: id} with non-negative integer ids"),
        ({"tekken.json": b'{"vocab": []}'}, "tekken.json: expected a config object and a vocab list"),
        ({"tekken.json": b'{"config": {"default_vocab_size": 5, "default_num_special_tokens": 9}, "vocab": []}'},
         "tekken.json: config.default_vocab_size and default_num_special_tokens must be counts"),
        ({"tekken.json": b'{"config": {"default_vocab_size": 5, "default_num_special_tokens": 1}, "vocab": [{"rank": 0}]}'},
         "tekken.json: vocab[0] has no token_bytes"),
        ({"vocab.txt": b""}, "vocab.txt: no tokens"),
    ],
    ids=["truncated-sentencepiece", "empty-sentencepiece", "gpt2-vocab", "tekken-shape", "tekken-counts", "tekken-entry", "empty-vocab-txt"],
)
def test_a_file_not_of_its_format_is_an_error_fact(tmp_path, files, error):
    directory = tmp_path / "model"
    directory.mkdir()
    for name, content in files.items():
        (directory / name).write_bytes(content)
    (directory / "config.json").write_text('{"vocab_size": 1000}', encoding="utf-8")
    facts = describe_model_dir(directory)
    assert (facts["tokenizer"]["error"], facts["tokenizer"]["sha256"], facts["tokenizer"]["present"]) == (error, None, True)
    assert facts["config"]["vocab_size"] == 1000  # the rest of the directory is still described


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from wfgy_rules.providers.model import model_files

    directory = model_dir(tmp_path, {"tokenizer.model": CORPUS / "sentencepiece" / "botchan_en_bpe_1000.model"})
    monkeypatch.setattr(model_files.read_bytes, "__defaults__", (1024,))
    facts = tokenizer_facts(directory)
    assert facts["sha256"] is None and facts["error"].endswith("tokenizer.model: over the 1024-byte limit for a model file")
