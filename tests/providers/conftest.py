"""Real Hugging Face model-directory files for the runtime and model_card provider tests."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models

from wfgy_rules.providers import runtime

# A byte-pair vocabulary that spells "hello"; three special tokens are added after it (ids 9-11).
BPE_VOCAB = {"<unk>": 0, "h": 1, "e": 2, "l": 3, "o": 4, "he": 5, "ll": 6, "hell": 7, "hello": 8}
BPE_MERGES = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o")]
SPECIAL_TOKENS = ["<s>", "</s>", "<|eot_id|>"]


def _write_json(path: Path, doc: object) -> None:
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")


def _bpe_tokenizer(vocab: dict[str, int] = BPE_VOCAB, merges: list[tuple[str, str]] = BPE_MERGES) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE(vocab=dict(vocab), merges=list(merges), unk_token="<unk>"))
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    return tokenizer


def _safetensors_bytes(shapes: dict[str, list[int]]) -> bytes:
    """A valid F16 safetensors file: u64 little-endian header length, JSON header, zeroed data."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in shapes.items():
        size = 2 * _product(shape)
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # the format pads the header with spaces to 8-byte alignment
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


def _product(shape: list[int]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


@pytest.fixture
def hf_model_dir(tmp_path: Path) -> Path:
    """A small but complete Llama-style model directory (config vocab 16 > tokenizer vocab 12)."""
    model = tmp_path / "model"
    model.mkdir()
    _bpe_tokenizer().save(str(model / "tokenizer.json"))
    _write_json(
        model / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>",
            "eos_token": {"content": "<|eot_id|>", "lstrip": False, "rstrip": False, "special": True},
            "chat_template": "{% for m in messages %}{{ m.role }}: {{ m.content }}{{ eos_token }}{% endfor %}",
        },
    )
    _write_json(
        model / "config.json",
        {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": 16,
            "bos_token_id": 9,
            "eos_token_id": 10,
            "pad_token_id": None,
            "transformers_version": "4.44.2",
        },
    )
    _write_json(model / "generation_config.json", {"bos_token_id": 9, "eos_token_id": [10, 11]})
    (model / "model.safetensors").write_bytes(
        _safetensors_bytes({"model.embed_tokens.weight": [16, 4], "lm_head.weight": [16, 4]})
    )
    return model


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No torch importable, no CUDA_VERSION given, no toolkit version.json: every source is empty."""
    monkeypatch.setitem(sys.modules, "torch", None)  # find_spec("torch") is None, as when not installed
    monkeypatch.setattr(runtime, "CUDA_VERSION_JSON", tmp_path / "no-cuda" / "version.json")


@pytest.fixture
def bpe_tokenizer():
    """``bpe_tokenizer(vocab=…, merges=…)``: a `tokenizers.Tokenizer` with the three special tokens added."""
    return _bpe_tokenizer


@pytest.fixture
def write_safetensors():
    """``write_safetensors(path, {tensor_name: shape})``: a real safetensors file, header and zeroed data."""
    return lambda path, shapes: path.write_bytes(_safetensors_bytes(shapes))
