"""The SentencePiece protobuf reader over real .model files (tests/providers/corpus/tokenizers/README.md).

Expected values were read with sentencepiece 0.2.3's own ``SentencePieceProcessor`` and
protobuf descriptor by the corpus's collector, not by this reader.
"""

from __future__ import annotations

import collections
import struct
from pathlib import Path

import pytest

from wfgy_rules.providers.model import sentencepiece_model
from wfgy_rules.providers.model.sentencepiece_model import SentencePieceError, read_model

CORPUS = Path(__file__).parent / "corpus" / "tokenizers"
BOTCHAN_UNIGRAM = CORPUS / "sentencepiece" / "botchan_en_unigram_1000.model"
BOTCHAN_BPE = CORPUS / "sentencepiece" / "botchan_en_bpe_1000.model"
MISTRAL_V3 = CORPUS / "mistral" / "mistral_instruct_tokenizer_240323.model.v3"


@pytest.mark.parametrize(
    ("path", "pieces", "types", "model_type", "normalizer_name", "byte_fallback"),
    [
        (BOTCHAN_UNIGRAM, 1000, {1: 997, 2: 1, 3: 2}, "UNIGRAM", "nfkc", False),  # model_type absent: the default
        (BOTCHAN_BPE, 1000, {1: 997, 2: 1, 3: 2}, "BPE", "nmt_nfkc", False),
        (MISTRAL_V3, 32768, {1: 31741, 2: 1, 3: 750, 4: 20, 6: 256}, "BPE", "identity", True),
    ],
    ids=["botchan-unigram", "botchan-bpe", "mistral-v3"],
)
def test_real_models(path, pieces, types, model_type, normalizer_name, byte_fallback):
    model = read_model(path.read_bytes())
    assert len(model["pieces"]) == pieces
    assert dict(collections.Counter(piece[2] for piece in model["pieces"])) == types
    assert model["pieces"][:3] == [["<unk>", 0.0, 2], ["<s>", 0.0, 3], ["</s>", 0.0, 3]]
    trainer = model["trainer"]
    assert (trainer["model_type"], trainer["vocab_size"], trainer["byte_fallback"]) == (model_type, pieces, byte_fallback)
    assert (trainer["unk_id"], trainer["bos_id"], trainer["eos_id"], trainer["pad_id"]) == (0, 1, 2, -1)  # pad_id -1: a 10-byte varint
    assert model["normalizer"]["name"] == normalizer_name
    assert model["denormalizer"] is None


def test_normalizer_details_of_real_models():
    mistral = read_model(MISTRAL_V3.read_bytes())["normalizer"]
    assert mistral == {"name": "identity", "precompiled_charsmap_sha256": None, "add_dummy_prefix": True,
                       "remove_extra_whitespaces": False, "escape_whitespaces": True, "normalization_rule_tsv": ""}
    botchan = read_model(BOTCHAN_UNIGRAM.read_bytes())
    assert len(botchan["normalizer"]["precompiled_charsmap_sha256"]) == 64
    assert botchan["pieces"][3] == ["\r", pytest.approx(-2.9318392), 1]  # fixed32 float, widened
    assert read_model(MISTRAL_V3.read_bytes())["pieces"][3] == ["[INST]", 0.0, 3]


# --- a tiny protobuf writer, to build models field by field ------------------------------------

def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, value: int | bytes | float) -> bytes:
    if isinstance(value, float):
        return varint(number << 3 | 5) + struct.pack("<f", value)
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def piece(text: str, score: float | None = None, kind: int | None = None) -> bytes:
    body = field(1, text.encode())
    body += field(2, score) if score is not None else b""
    body += field(3, kind) if kind is not None else b""
    return field(1, body)


def test_absent_fields_take_the_proto_defaults():
    model = read_model(piece("<unk>", kind=2) + piece("▁a"))
    assert model["pieces"] == [["<unk>", 0.0, 2], ["▁a", 0.0, 1]]
    assert model["trainer"] == {
        "model_type": "UNIGRAM", "vocab_size": 8000, "treat_whitespace_as_suffix": False, "allow_whitespace_only_pieces": False,
        "byte_fallback": False, "unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": -1, "unk_surface": " \u2047 ",
        "unk_piece": "<unk>", "bos_piece": "<s>", "eos_piece": "</s>", "pad_piece": "<pad>",
    }
    assert model["normalizer"] == {"name": "", "precompiled_charsmap_sha256": None, "add_dummy_prefix": True,
                                   "remove_extra_whitespaces": True, "escape_whitespaces": True, "normalization_rule_tsv": ""}


def test_training_bookkeeping_and_unknown_fields_are_skipped():
    base = piece("<unk>", kind=2) + piece("▁a", -1.5)
    trainer = field(3, 2) + field(40, 3) + field(43, -1)
    plain = read_model(base + field(2, trainer))
    noisy = read_model(base + field(2, field(1, b"corpus.txt") + trainer + field(11, 10**6) + field(16, 64)) + field(200, b"ext"))
    assert plain == noisy
    assert (plain["trainer"]["model_type"], plain["trainer"]["unk_id"], plain["trainer"]["pad_id"]) == ("BPE", 3, -1)


def test_every_truncation_of_a_real_model_is_a_clear_error():
    data = BOTCHAN_BPE.read_bytes()
    cuts = sorted({1, 2, 3, 7, 100, 1000, len(data) // 2, len(data) - 100, len(data) - 2, len(data) - 1} | set(range(0, 600, 37)))
    for cut in cuts:
        try:
            read_model(data[:cut])
        except SentencePieceError as exc:
            assert "byte" in str(exc) or "no pieces" in str(exc)
    with pytest.raises(SentencePieceError, match=r"claims \d+ bytes; \d+ are left"):
        read_model(data[: len(data) - 1])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no pieces (not a SentencePiece model?)"),
        (b"\x0a\xff", "truncated varint at byte 1"),
        (b"\x0a" + b"\xff" * 11, "varint longer than 10 bytes at byte 1"),
        (b"\x0b", "unsupported wire type 3 at byte 0"),
        (b"\x00\x01", "field number 0 at byte 0"),
        (field(1, field(2, 7)), "piece score at byte 2 is not a fixed32 float"),
        (field(1, field(1, b"\xff")), "string at byte 2 is not UTF-8"),
        (field(1, field(3, 1)), "piece at byte 0 has no text"),
        (field(1, 5), "pieces at byte 0 is not length-delimited (wire type 0)"),
        (b"\x15\x00\x00", "truncated fixed32 at byte 1"),
        (b"{\"model\": 1}", "unsupported wire type 3 at byte 0"),  # a JSON file named tokenizer.model
    ],
    ids=["empty", "truncated-varint", "endless-varint", "group", "field-zero", "score-type", "not-utf8", "no-text",
         "pieces-not-bytes", "truncated-fixed32", "json"],
)
def test_malformed_models(data, message):
    with pytest.raises(SentencePieceError) as caught:
        read_model(data)
    assert str(caught.value) == message


def test_the_size_limit(monkeypatch):
    monkeypatch.setattr(sentencepiece_model, "MAX_MODEL_BYTES", 100)
    with pytest.raises(SentencePieceError, match="^253152 bytes is over the 100-byte limit$"):
        read_model(BOTCHAN_UNIGRAM.read_bytes())


def test_deep_nesting_is_not_followed():
    """Messages nest two levels at most; deeper bytes are never parsed, so no recursion bomb."""
    nested = b"x"
    for _ in range(10_000):
        nested = field(9, nested)
    model = read_model(piece("<unk>", kind=2) + field(2, nested))
    assert model["trainer"]["vocab_size"] == 8000
