"""A SentencePiece model file (``tokenizer.model``) read without the sentencepiece package.

A ``.model`` file is a serialised ``sentencepiece.ModelProto`` (proto2; the field numbers
below are those of ``src/sentencepiece_model.proto`` in sentencepiece 0.2.x). This module
walks the protobuf wire format with a small bounded reader and keeps what decides the ids
an encoder emits; training bookkeeping (input files, seeds, thread counts, coverage …) is
skipped, so re-saving a model with other training metadata keeps its reading::

    ModelProto              pieces = 1 (repeated), trainer_spec = 2, normalizer_spec = 3,
                            denormalizer_spec = 5; every other field is skipped
    ModelProto.SentencePiece  piece = 1 (string), score = 2 (fixed32 float, default 0.0),
                            type = 3 (NORMAL=1 default, UNKNOWN=2, CONTROL=3, USER_DEFINED=4,
                            UNUSED=5, BYTE=6)
    TrainerSpec             model_type = 3 (UNIGRAM=1 default, BPE=2, WORD=3, CHAR=4),
                            vocab_size = 4 (default 8000; informational), byte_fallback = 35,
                            treat_whitespace_as_suffix = 24, allow_whitespace_only_pieces = 26,
                            unk/bos/eos/pad_id = 40-43 (defaults 0, 1, 2, -1),
                            unk_surface = 44, unk/bos/eos/pad_piece = 45-48
    NormalizerSpec          name = 1, precompiled_charsmap = 2 (kept as its sha256),
                            add_dummy_prefix = 3, remove_extra_whitespaces = 4,
                            escape_whitespaces = 5 (all three default true),
                            normalization_rule_tsv = 6

A field that is absent takes the proto default, as protobuf readers do (proto2 writers
leave defaults out: a unigram model usually has no ``model_type``). ``read_model(data)``
returns::

    pieces: [["<unk>", 0.0, 2], ["<s>", 0.0, 3], ["▁the", -3.21, 1], …]   # [piece, score, type]; index = id
    trainer: {model_type: BPE, vocab_size: 32000, byte_fallback: true, unk_id: 0, …, unk_piece: "<unk>", …}
    normalizer: {name: identity, precompiled_charsmap_sha256: null, add_dummy_prefix: true, …}   # "" for an absent string
    denormalizer: null                # or the same shape as normalizer

The reader is bounded: at most ``MAX_MODEL_BYTES`` of input, a fixed nesting of two levels
(no recursion on the data), and every length checked against the bytes left. A truncated
or malformed file raises `SentencePieceError` with the byte offset
(``truncated varint at byte 253150``), never an IndexError.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterator
from typing import Any

MAX_MODEL_BYTES = 64 * 1024 * 1024
MODEL_TYPES = {1: "UNIGRAM", 2: "BPE", 3: "WORD", 4: "CHAR"}
PIECE_TYPES = {1: "NORMAL", 2: "UNKNOWN", 3: "CONTROL", 4: "USER_DEFINED", 5: "UNUSED", 6: "BYTE"}

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_MAX_VARINT_BYTES = 10

# TrainerSpec fields that change what an encoder emits: number -> (name, wire kind, default).
_TRAINER_FIELDS: dict[int, tuple[str, str, Any]] = {
    3: ("model_type", "enum", 1),
    4: ("vocab_size", "int32", 8000),
    24: ("treat_whitespace_as_suffix", "bool", False),
    26: ("allow_whitespace_only_pieces", "bool", False),
    35: ("byte_fallback", "bool", False),
    40: ("unk_id", "int32", 0),
    41: ("bos_id", "int32", 1),
    42: ("eos_id", "int32", 2),
    43: ("pad_id", "int32", -1),
    44: ("unk_surface", "string", " \u2047 "),
    45: ("unk_piece", "string", "<unk>"),
    46: ("bos_piece", "string", "<s>"),
    47: ("eos_piece", "string", "</s>"),
    48: ("pad_piece", "string", "<pad>"),
}
_NORMALIZER_FIELDS: dict[int, tuple[str, str, Any]] = {
    1: ("name", "string", ""),
    2: ("precompiled_charsmap_sha256", "sha256", None),
    3: ("add_dummy_prefix", "bool", True),
    4: ("remove_extra_whitespaces", "bool", True),
    5: ("escape_whitespaces", "bool", True),
    6: ("normalization_rule_tsv", "string", ""),
}


class SentencePieceError(ValueError):
    """The bytes are not a readable SentencePiece ModelProto (the message says where)."""


def read_model(data: bytes) -> dict[str, Any]:
    """``{pieces, trainer, normalizer, denormalizer}`` of a serialised ModelProto (see the module docstring)."""
    if len(data) > MAX_MODEL_BYTES:
        raise SentencePieceError(f"{len(data)} bytes is over the {MAX_MODEL_BYTES}-byte limit")
    view = memoryview(data)
    pieces: list[list[Any]] = []
    trainer = normalizer = denormalizer = None
    for number, wire, value, at in _fields(view):
        if number == 1:
            pieces.append(_piece(_expect_bytes(value, wire, at, "pieces"), at))
        elif number == 2:
            trainer = _message(_expect_bytes(value, wire, at, "trainer_spec"), _TRAINER_FIELDS)
        elif number == 3:
            normalizer = _message(_expect_bytes(value, wire, at, "normalizer_spec"), _NORMALIZER_FIELDS)
        elif number == 5:
            denormalizer = _message(_expect_bytes(value, wire, at, "denormalizer_spec"), _NORMALIZER_FIELDS)
    if not pieces:
        raise SentencePieceError("no pieces (not a SentencePiece model?)")
    trainer = trainer if trainer is not None else _message(None, _TRAINER_FIELDS)
    trainer["model_type"] = MODEL_TYPES.get(trainer["model_type"], trainer["model_type"])
    return {
        "pieces": pieces,
        "trainer": trainer,
        "normalizer": normalizer if normalizer is not None else _message(None, _NORMALIZER_FIELDS),
        "denormalizer": denormalizer,
    }


def _piece(value: tuple[int, int, memoryview], at: int) -> list[Any]:
    start, _, view = value
    piece, score, kind = None, 0.0, 1
    for number, wire, field, where in _fields(view, base=start):
        if number == 1:
            piece = _text(_expect_bytes(field, wire, where, "piece")[2], where)
        elif number == 2:
            if wire != _FIXED32:
                raise SentencePieceError(f"piece score at byte {where} is not a fixed32 float")
            (score,) = struct.unpack("<f", field)
            score = score if math.isfinite(score) else repr(score)  # keep JSON-safe and exact
        elif number == 3:
            kind = _expect_varint(field, wire, where, "piece type")
    if piece is None:
        raise SentencePieceError(f"piece at byte {at} has no text")
    return [piece, score, kind]


def _message(value: tuple[int, int, memoryview] | None, known: dict[int, tuple[str, str, Any]]) -> dict[str, Any]:
    """A flat message (None: absent): the ``known`` fields, with their defaults when absent."""
    facts = {name: default for name, _, default in known.values()}
    if value is None:
        return facts
    start, _, view = value
    for number, wire, field, where in _fields(view, base=start):
        if number not in known:
            continue
        name, kind, _ = known[number]
        if kind == "string":
            facts[name] = _text(_expect_bytes(field, wire, where, name)[2], where)
        elif kind == "sha256":
            raw = bytes(_expect_bytes(field, wire, where, name)[2])
            facts[name] = hashlib.sha256(raw).hexdigest() if raw else None
        else:
            number_value = _expect_varint(field, wire, where, name)
            if kind == "bool":
                facts[name] = number_value != 0
            elif kind == "int32":  # a negative int32 is written as a 10-byte two's-complement varint
                facts[name] = number_value - (1 << 64) if number_value >= 1 << 63 else number_value
            else:
                facts[name] = number_value
    return facts


def _fields(view: memoryview, base: int = 0) -> Iterator[tuple[int, int, Any, int]]:
    """``(field number, wire type, value, byte offset)`` of each field in ``view``, which starts
    at byte ``base`` of the file. A length-delimited value is ``(offset, length, sub-view)``.
    """
    position = 0
    size = len(view)
    while position < size:
        at = base + position
        key, position = _varint(view, position, base)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise SentencePieceError(f"field number 0 at byte {at}")
        if wire == _VARINT:
            value, position = _varint(view, position, base)
        elif wire in (_FIXED64, _FIXED32):
            width = 8 if wire == _FIXED64 else 4
            if position + width > size:
                raise SentencePieceError(f"truncated fixed{width * 8} at byte {base + position}")
            value, position = bytes(view[position:position + width]), position + width
        elif wire == _BYTES:
            length, position = _varint(view, position, base)
            if length > size - position:
                raise SentencePieceError(f"field {number} at byte {at} claims {length} bytes; {size - position} are left")
            value, position = (base + position, length, view[position:position + length]), position + length
        else:  # 3/4 are deprecated groups, 6/7 do not exist: nothing SentencePiece writes
            raise SentencePieceError(f"unsupported wire type {wire} at byte {at}")
        yield number, wire, value, at


def _varint(view: memoryview, position: int, base: int) -> tuple[int, int]:
    result = shift = 0
    for offset in range(_MAX_VARINT_BYTES):
        if position + offset >= len(view):
            raise SentencePieceError(f"truncated varint at byte {base + position}")
        byte = view[position + offset]
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, position + offset + 1
    raise SentencePieceError(f"varint longer than {_MAX_VARINT_BYTES} bytes at byte {base + position}")


def _expect_bytes(value: Any, wire: int, at: int, what: str) -> tuple[int, int, memoryview]:
    if wire != _BYTES:
        raise SentencePieceError(f"{what} at byte {at} is not length-delimited (wire type {wire})")
    return value


def _expect_varint(value: Any, wire: int, at: int, what: str) -> int:
    if wire != _VARINT:
        raise SentencePieceError(f"{what} at byte {at} is not a varint (wire type {wire})")
    return value


def _text(view: memoryview, at: int) -> str:
    try:
        return bytes(view).decode("utf-8")
    except UnicodeDecodeError:
        raise SentencePieceError(f"string at byte {at} is not UTF-8") from None
