"""The tokenizer fingerprint: every file and setting that changes the ids a tokenizer emits.

``runtime.model_dir.tokenizer.sha256`` (and ``wfgy-rules lock``'s ``tokenizer_sha``) is
``canonical_sha256`` (sha256 of sorted-key, compact JSON) of one document::

    {"vocabularies": {FILE: CONTENT, …},      # every vocabulary file present (table below)
     "tokenizer_config.json": {…},            # minus the keys listed below, minus null values
     "special_tokens_map.json": {…},          # whole
     "added_tokens.json": {…}}                # whole (slow tokenizers' added tokens)

An absent file is an absent key, never an empty one. ``per_file`` holds each file's part of
the fingerprint (`wfgy_rules.providers.model.file_records`): the digest of what is hashed of
it and, for tokenizer_config.json and special_tokens_map.json, the values of their keys, so
a changed fingerprint names the file and the key. The vocabulary files, and what of them
is hashed (so that re-serialising the same tokenizer keeps the fingerprint):

| file | format | content hashed | vocab_size |
|---|---|---|---|
| tokenizer.json | tokenizer.json | the JSON, ``truncation`` and ``padding`` nulled | max id + 1 |
| tekken.json (Mistral) | tekken | the JSON, ``token_str`` dropped from ``vocab`` (it is derived from ``token_bytes``) | ``config.default_vocab_size`` |
| tokenizer.model, tokenizer.model.v*, spiece.model, sentencepiece.bpe.model | sentencepiece | pieces [piece, score, type], the encoding fields of the trainer spec, the normalizer and denormalizer specs (`wfgy_rules.providers.model.sentencepiece_model`) | number of pieces |
| vocab.json + merges.txt (GPT-2) | gpt2-bpe | the vocab object and the merges in order (``#version`` lines, blank lines and line endings dropped) | max id + 1 |
| vocab.txt (BERT) | wordpiece | the tokens, one a line, as transformers reads them (id = line number) | number of lines |

When several are present, every one is hashed; ``format``, ``vocab_size`` and the ids come
from the first in the table's order (the file a fast tokenizer loads first). Added tokens
(``tokenizer.json`` ``added_tokens``, ``tokenizer_config.json`` ``added_tokens_decoder``,
``added_tokens.json``) count towards ``vocab_size`` and win on id lookup.

tokenizer_config.json keys left out, as they do not change the ids of an encoded text:
runtime call settings (``padding_side``, ``truncation_side``, ``pad_to_multiple_of``,
``max_length``, ``stride``, ``padding``, ``truncation``, ``padding_strategy``,
``truncation_strategy``), where the files were loaded from (``name_or_path``,
``tokenizer_file``, ``vocab_file``, ``merges_file``, ``special_tokens_map_file``,
``_commit_hash``), and ``chat_template``, which has its own fingerprint
(``tokenizer.chat_template.sha256``, rule ``semvers.chat-template-sha``). Every other key is
covered: ``do_lower_case``, ``strip_accents``, ``tokenize_chinese_chars``, ``add_bos_token``,
``add_eos_token``, ``add_prefix_space``, ``legacy``, ``sp_model_kwargs``, the special tokens,
``added_tokens_decoder``, ``tokenizer_class``, ``model_input_names`` … and also
``model_max_length`` (it bounds every truncating call) and ``clean_up_tokenization_spaces``
/ ``spaces_between_special_tokens`` (they change decoded text, not ids): covered, although
a plain encode gives the same ids.

A vocabulary file whose content is not of its format (a truncated ``tokenizer.model``, a
``vocab.json`` that is not ``{token: id}``) leaves ``sha256`` null and says why in
``error`` (``tokenizer.model: truncated varint at byte 253150``); a JSON file that does not
parse raises `ProviderError`, as for every JSON file of the model directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfgy_rules.providers.model.file_records import Record, digest_record, settings_record
from wfgy_rules.providers.model.model_files import (
    canonical_json,
    canonical_object,
    read_bytes,
    read_json,
    read_text,
    text_sha256,
)
from wfgy_rules.providers.model.sentencepiece_model import SentencePieceError, read_model

SENTENCEPIECE_FILES = ("tokenizer.model", "spiece.model", "sentencepiece.bpe.model")
NON_ID_CONFIG_KEYS = frozenset({
    "padding_side", "truncation_side", "pad_to_multiple_of", "max_length", "stride", "padding", "truncation",
    "padding_strategy", "truncation_strategy",
    "name_or_path", "tokenizer_file", "vocab_file", "merges_file", "special_tokens_map_file", "_commit_hash",
    "chat_template",
})


class _Malformed(Exception):
    """A vocabulary file that is not of its format (reported as ``tokenizer.error``)."""


@dataclass(frozen=True)
class Vocabulary:
    """One vocabulary file (or the GPT-2 pair) as read: what is hashed, and its (token, id) pairs."""

    format: str
    files: tuple[str, ...]
    content: Any
    pairs: list[tuple[str, int]]
    vocab_size: int | None = None  # ids 0 … vocab_size - 1 exist even where pairs lack them (tekken)
    model_type: str | None = None
    added_tokens: int | None = None
    special_tokens: dict[str, str] = field(default_factory=dict)  # what the file itself names bos/eos/unk/pad
    part_keys: dict[str, str] | None = None  # {file: its key in content}, when several files make one vocabulary (GPT-2)

    def texts(self) -> tuple[str, dict[str, str]]:
        """The canonical JSON of ``content`` and of each file's part of it, each serialised once."""
        if self.part_keys is None:
            text = canonical_json(self.content)
            return text, {self.files[0]: text}
        parts = {name: canonical_json(self.content[key]) for name, key in self.part_keys.items()}
        return canonical_object({key: parts[name] for name, key in self.part_keys.items()}), parts


@dataclass(frozen=True)
class TokenizerFiles:
    """The fingerprint and vocabulary facts of a model directory's tokenizer files."""

    format: str | None = None
    files: list[str] = field(default_factory=list)
    sha256: str | None = None
    error: str | None = None
    ids: dict[str, int] = field(default_factory=dict)
    vocab_size: int | None = None
    max_id: int | None = None
    model_type: str | None = None
    added_tokens: int | None = None
    special_tokens: dict[str, str] = field(default_factory=dict)
    per_file: dict[str, Record] = field(default_factory=dict)


def read_tokenizer_files(path: Path, tokenizer_config: dict[str, Any] | None, special_tokens_map: dict[str, Any] | None) -> TokenizerFiles:
    """Fingerprint and vocabulary of the tokenizer files in ``path`` (see the module docstring)."""
    added_tokens_json = read_json(path / "added_tokens.json")
    try:
        vocabularies = [v for reader in _READERS for v in reader(path)]
    except _Malformed as exc:
        return TokenizerFiles(error=str(exc))
    if not vocabularies:
        return TokenizerFiles()
    primary = vocabularies[0]
    vocabulary_texts: dict[str, str] = {}
    per_file: dict[str, Record] = {}
    for vocabulary in vocabularies:
        vocabulary_texts["+".join(vocabulary.files)], parts = vocabulary.texts()
        per_file.update({name: {"sha256": text_sha256(text)} for name, text in parts.items()})
    document = {"vocabularies": canonical_object(vocabulary_texts)}
    for name, doc in (("tokenizer_config.json", _config_for_fingerprint(tokenizer_config)),
                      ("special_tokens_map.json", special_tokens_map), ("added_tokens.json", added_tokens_json)):
        if doc is not None:
            document[name] = canonical_json(doc)
            per_file[name] = digest_record(doc) if name == "added_tokens.json" else settings_record(doc)
    pairs = primary.pairs + _added_pairs(tokenizer_config or {}, added_tokens_json or {})
    ids = [token_id for _, token_id in pairs] + ([primary.vocab_size - 1] if primary.vocab_size else [])
    max_id = max(ids, default=None)
    files = [name for v in vocabularies for name in v.files]
    files += [name for name in ("tokenizer_config.json", "special_tokens_map.json", "added_tokens.json") if name in document]
    return TokenizerFiles(
        format=primary.format,
        files=files,
        sha256=text_sha256(canonical_object(document)),
        ids=dict(pairs),
        vocab_size=None if max_id is None else max_id + 1,
        max_id=max_id,
        model_type=primary.model_type,
        added_tokens=primary.added_tokens,
        special_tokens=primary.special_tokens,
        per_file=per_file,
    )


def _config_for_fingerprint(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if config is None:
        return None
    return {key: value for key, value in config.items() if key not in NON_ID_CONFIG_KEYS and value is not None}


def _added_pairs(tokenizer_config: dict[str, Any], added_tokens_json: dict[str, Any]) -> list[tuple[str, int]]:
    """Added tokens a transformers tokenizer registers on top of its vocabulary file."""
    pairs = []
    decoder = tokenizer_config.get("added_tokens_decoder")
    for key, token in (decoder.items() if isinstance(decoder, dict) else []):
        if isinstance(token, dict) and isinstance(token.get("content"), str) and key.isdigit():
            pairs.append((token["content"], int(key)))
    pairs += [(token, i) for token, i in added_tokens_json.items() if _is_id(i)]
    return pairs


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _tokenizer_json(path: Path) -> list[Vocabulary]:
    doc = read_json(path / "tokenizer.json")
    if doc is None:
        return []
    model = doc.get("model")
    vocab = model.get("vocab") if isinstance(model, dict) else None
    if isinstance(vocab, dict):
        pairs = list(vocab.items())
    elif isinstance(vocab, list):  # Unigram: [[piece, score], …], the index is the id
        pairs = [(entry[0] if isinstance(entry, list) and entry else None, i) for i, entry in enumerate(vocab)]
    else:
        pairs = []
    added = doc.get("added_tokens")
    for token in added if isinstance(added, list) else []:
        if isinstance(token, dict):
            pairs.append((token.get("content"), token.get("id")))
    return [Vocabulary(
        format="tokenizer.json",
        files=("tokenizer.json",),
        content={**doc, "truncation": None, "padding": None},
        pairs=[(t, i) for t, i in pairs if isinstance(t, str) and _is_id(i)],
        model_type=model.get("type") if isinstance(model, dict) else None,
        added_tokens=len(added) if isinstance(added, list) else None,
    )]


def _tekken(path: Path) -> list[Vocabulary]:
    doc = read_json(path / "tekken.json")
    if doc is None:
        return []
    config, vocab, specials = doc.get("config"), doc.get("vocab"), doc.get("special_tokens") or []
    if not isinstance(config, dict) or not isinstance(vocab, list) or not isinstance(specials, list):
        raise _Malformed("tekken.json: expected a config object and a vocab list")
    size, special_count = config.get("default_vocab_size"), config.get("default_num_special_tokens")
    if not _is_id(size) or not _is_id(special_count) or special_count > size:
        raise _Malformed("tekken.json: config.default_vocab_size and default_num_special_tokens must be counts")
    pairs = [(t["token_str"], t["rank"]) for t in specials if isinstance(t, dict) and isinstance(t.get("token_str"), str) and _is_id(t.get("rank"))]
    entries = []
    for index, token in enumerate(vocab):
        if not isinstance(token, dict) or not isinstance(token.get("token_bytes"), str):
            raise _Malformed(f"tekken.json: vocab[{index}] has no token_bytes")
        entries.append({key: value for key, value in token.items() if key != "token_str"})
        if index < size - special_count and isinstance(token.get("token_str"), str):
            pairs.append((token["token_str"], index + special_count))
    return [Vocabulary("tekken", ("tekken.json",), {**doc, "vocab": entries}, pairs, vocab_size=size, model_type="BPE")]


def _sentencepiece(path: Path) -> list[Vocabulary]:
    names = [name for name in SENTENCEPIECE_FILES if (path / name).is_file()]
    names += sorted(p.name for p in path.glob("tokenizer.model.v*") if p.is_file())
    found = []
    for name in names:
        data = read_bytes(path / name)
        try:
            model = read_model(data or b"")
        except SentencePieceError as exc:
            raise _Malformed(f"{name}: {exc}") from None
        pairs = [(piece[0], i) for i, piece in enumerate(model["pieces"])]
        trainer = model["trainer"]
        specials = {f"{kind}_token": pairs[trainer[f"{kind}_id"]][0] for kind in ("unk", "bos", "eos", "pad")
                    if 0 <= trainer[f"{kind}_id"] < len(pairs)}
        found.append(Vocabulary("sentencepiece", (name,), model, pairs, vocab_size=len(pairs),
                                model_type=trainer["model_type"], special_tokens=specials))
    return found


def _gpt2(path: Path) -> list[Vocabulary]:
    vocab, merges = read_json(path / "vocab.json"), read_text(path / "merges.txt")
    if vocab is None or merges is None:
        return []
    if not all(_is_id(i) for i in vocab.values()):
        raise _Malformed("vocab.json: expected {token: id} with non-negative integer ids")
    lines = [" ".join(line.split()) for line in merges.splitlines() if not line.startswith("#version")]
    return [Vocabulary("gpt2-bpe", ("vocab.json", "merges.txt"), {"vocab": vocab, "merges": [m for m in lines if m]},
                       list(vocab.items()), model_type="BPE", part_keys={"vocab.json": "vocab", "merges.txt": "merges"})]


def _wordpiece(path: Path) -> list[Vocabulary]:
    text = read_text(path / "vocab.txt")
    if text is None:
        return []
    tokens = _split_lines(text)
    if not tokens:
        raise _Malformed("vocab.txt: no tokens")
    return [Vocabulary("wordpiece", ("vocab.txt",), tokens, [(t, i) for i, t in enumerate(tokens)], vocab_size=len(tokens), model_type="WordPiece")]


def _split_lines(text: str) -> list[str]:
    """Lines as transformers' ``load_vocab`` reads them: text mode (``\\r\\n`` and ``\\r`` end a
    line too), ``readlines()``, ``rstrip("\\n")``; other Unicode line breaks stay in the token."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


_READERS: tuple[Callable[[Path], list[Vocabulary]], ...] = (_tokenizer_json, _tekken, _sentencepiece, _gpt2, _wordpiece)
