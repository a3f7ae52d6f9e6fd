"""What a Hugging Face model directory holds, read without loading the model.

No model library is imported: the JSON files are read as text, a safetensors file only up
to the end of its header, and a chat template is parsed (never rendered) with jinja2,
imported on first use. ``describe_model_dir(path)`` returns four facts, which the
``runtime`` provider shows under ``runtime.model_dir``::

    config:                         # config.json
      present: true
      vocab_size: 128256            # or text_config.vocab_size (multimodal models)
      bos_token_id: 128000
      eos_token_ids: [128001, 128009]   # always a list
      pad_token_id: null
      model_type: llama
      transformers_version: 4.44.2
    tokenizer:                      # tokenizer.json (+ tokenizer_config.json, special_tokens_map.json)
      present: true                 # tokenizer.json exists
      sha256: 9e7f02d…              # stable fingerprint, see `tokenizer_fingerprint`
      vocab_size: 128256            # max token id + 1, added tokens included
      max_id: 128255
      added_tokens: 256
      model_type: BPE               # BPE | WordPiece | Unigram | WordLevel
      bos_token: <|begin_of_text|>
      eos_token: <|eot_id|>
      bos_token_id: 128000
      eos_token_id: 128009
      tokenizer_class: PreTrainedTokenizerFast
      chat_template:
        present: true
        source: tokenizer_config.json   # or chat_template.jinja (wins when both exist) or null
        parseable: false                # null when there is no template
        error: {line: 3, message: "unexpected '}'"}   # line within the template
    generation_config: {present: true, eos_token_ids: [128001, 128008, 128009], bos_token_id: 128000}
    checkpoint:
      present: true                 # some *.safetensors file exists
      files: [model-00001-of-00002.safetensors, model-00002-of-00002.safetensors]
      embedding_tensor: model.embed_tokens.weight
      embedding_rows: 128256
      error: null                   # e.g. "model.safetensors: shorter than the 8-byte header length"

A missing config.json, generation_config.json or tokenizer.json gives ``present: false``
and null values (empty lists for ``eos_token_ids``); the tokenizer's special tokens, class
and chat template are still read from the other tokenizer files when they exist. A special
token is a plain string or ``{"content": …}``, taken from tokenizer_config.json, else
special_tokens_map.json; its id is looked up in the vocabulary, where added tokens win.
The embedding tensor is the first name (sorted) that ends, on whole dotted components, in
the earliest of `EMBEDDING_SUFFIXES`; a sharded checkpoint is searched through its
``model.safetensors.index.json``.

A file that cannot be read, or a JSON file that cannot be parsed, raises `ProviderError`
(``…/model/config.json:3:18: invalid JSON: Expecting ',' delimiter``); a safetensors header
that cannot be read is reported in ``checkpoint.error`` and the other facts stay usable.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wfgy_rules.errors import Problem, ProviderError
from wfgy_rules.providers.templates.jinja_extension import generation_block

MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
SAFETENSORS_INDEX = "model.safetensors.index.json"
# Input-embedding tensor names, most specific first; matched on whole dotted components.
EMBEDDING_SUFFIXES = (
    "embed_tokens.weight",
    "wte.weight",
    "word_embeddings.weight",
    "tok_embeddings.weight",
    "embeddings.weight",
)


def describe_model_dir(path: Path) -> dict[str, Any]:
    """The ``config``, ``tokenizer``, ``generation_config`` and ``checkpoint`` facts of a directory.

    Raises `ProviderError` (``FILE:LINE:COL: invalid JSON: …``) for a malformed JSON file.
    """
    return {
        "config": _config_facts(_read_json(path / "config.json")),
        "tokenizer": _tokenizer_facts(path),
        "generation_config": _generation_facts(_read_json(path / "generation_config.json")),
        "checkpoint": _checkpoint_facts(path),
    }


def _read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when it does not exist; anything else is a `ProviderError`."""
    text = _read_text(path)
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProviderError(str(Problem(str(path), f"invalid JSON: {exc.msg}", exc.lineno, exc.colno))) from None
    if not isinstance(doc, dict):
        raise ProviderError(str(Problem(str(path), "expected a JSON object", 1, 1)))
    return doc


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise ProviderError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ProviderError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _config_facts(config: dict[str, Any] | None) -> dict[str, Any]:
    doc = config or {}
    return {
        "present": config is not None,
        "vocab_size": _top_or_text(doc, "vocab_size"),
        "bos_token_id": _top_or_text(doc, "bos_token_id"),
        "eos_token_ids": _id_list(_top_or_text(doc, "eos_token_id")),
        "pad_token_id": _top_or_text(doc, "pad_token_id"),
        "model_type": doc.get("model_type"),
        "transformers_version": doc.get("transformers_version"),
    }


def _top_or_text(config: dict[str, Any], key: str) -> Any:
    """A config value, taken from ``text_config`` when the top level lacks it (multimodal models)."""
    text_config = config.get("text_config")
    if config.get(key) is None and isinstance(text_config, dict):
        return text_config.get(key)
    return config.get(key)


def _id_list(value: Any) -> list[Any]:
    """``eos_token_id`` may be one id or a list; facts always hold a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _generation_facts(generation: dict[str, Any] | None) -> dict[str, Any]:
    doc = generation or {}
    return {
        "present": generation is not None,
        "eos_token_ids": _id_list(doc.get("eos_token_id")),
        "bos_token_id": doc.get("bos_token_id"),
    }


def tokenizer_fingerprint(tokenizer: dict[str, Any]) -> str:
    """sha256 of tokenizer.json's canonical JSON, with ``truncation`` and ``padding`` nulled.

    Key order, whitespace and the two runtime settings do not change it; any change to the
    vocabulary, merges, added tokens, normalizer or pre-tokenizer does.
    """
    canonical = json.dumps(
        {**tokenizer, "truncation": None, "padding": None},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    # surrogatepass: a vocabulary may hold lone surrogates ("\ud83d"), which plain UTF-8 refuses.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _tokenizer_facts(path: Path) -> dict[str, Any]:
    tokenizer = _read_json(path / "tokenizer.json")
    tokenizer_config = _read_json(path / "tokenizer_config.json") or {}
    special_tokens_map = _read_json(path / "special_tokens_map.json") or {}
    pairs = _token_ids(tokenizer or {})
    ids = dict(pairs)
    max_id = max((token_id for _, token_id in pairs), default=None)
    bos = _special_token("bos_token", tokenizer_config, special_tokens_map)
    eos = _special_token("eos_token", tokenizer_config, special_tokens_map)
    added = (tokenizer or {}).get("added_tokens")
    model = (tokenizer or {}).get("model")
    return {
        "present": tokenizer is not None,
        "sha256": tokenizer_fingerprint(tokenizer) if tokenizer is not None else None,
        "vocab_size": None if max_id is None else max_id + 1,
        "max_id": max_id,
        "added_tokens": len(added) if isinstance(added, list) else None,
        "model_type": model.get("type") if isinstance(model, dict) else None,
        "bos_token": bos,
        "eos_token": eos,
        "bos_token_id": ids.get(bos),
        "eos_token_id": ids.get(eos),
        "tokenizer_class": tokenizer_config.get("tokenizer_class"),
        "chat_template": _chat_template_facts(path, tokenizer_config),
    }


def _token_ids(tokenizer: dict[str, Any]) -> list[tuple[str, int]]:
    """Every (token, id): the model's vocab, then the added tokens (which win on lookup).

    The vocab is ``{token: id}``, or for Unigram a list of ``[piece, score]`` whose index is the id.
    """
    model = tokenizer.get("model")
    vocab = model.get("vocab") if isinstance(model, dict) else None
    if isinstance(vocab, dict):
        pairs = list(vocab.items())
    elif isinstance(vocab, list):
        pairs = [(entry[0] if isinstance(entry, list) and entry else None, i) for i, entry in enumerate(vocab)]
    else:
        pairs = []
    added = tokenizer.get("added_tokens")
    for token in added if isinstance(added, list) else []:
        if isinstance(token, dict):
            pairs.append((token.get("content"), token.get("id")))
    return [(t, i) for t, i in pairs if isinstance(t, str) and isinstance(i, int) and not isinstance(i, bool)]


def _special_token(name: str, *sources: dict[str, Any]) -> str | None:
    """A special token's text: a plain string or ``{"content": …}``, from the first source that has it."""
    for source in sources:
        value = source.get(name)
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str):
            return value
    return None


def _chat_template_facts(path: Path, tokenizer_config: dict[str, Any]) -> dict[str, Any]:
    templates, source = _chat_templates(path, tokenizer_config)
    if not templates:
        return {"present": False, "source": None, "parseable": None, "error": None, "undeclared": []}
    from wfgy_rules.providers.templates.chat_templates import chat_template_undeclared

    error = _first_syntax_error(templates)
    undeclared = chat_template_undeclared(templates)
    return {"present": True, "source": source, "parseable": error is None, "error": error, "undeclared": undeclared}


def _chat_templates(path: Path, tokenizer_config: dict[str, Any]) -> tuple[list[tuple[str | None, str]], str | None]:
    """``[(name, source)]`` and where they came from; chat_template.jinja wins, as in transformers.

    In tokenizer_config.json, ``chat_template`` is one template or a list of ``{name, template}``.
    """
    text = _read_text(path / "chat_template.jinja")
    if text is not None:
        return [(None, text)], "chat_template.jinja"
    value = tokenizer_config.get("chat_template")
    if isinstance(value, str):
        return [(None, value)], "tokenizer_config.json"
    if isinstance(value, list):
        named = [(t.get("name"), t["template"]) for t in value if isinstance(t, dict) and isinstance(t.get("template"), str)]
        return named, "tokenizer_config.json"
    return [], None


def _first_syntax_error(templates: list[tuple[str | None, str]]) -> dict[str, Any] | None:
    """``{line, message}`` of the first template that does not parse (line within the template)."""
    from jinja2 import TemplateSyntaxError

    environment = _template_environment()
    for name, source in templates:
        try:
            environment.parse(source)
        except TemplateSyntaxError as exc:
            prefix = f"template {name!r}: " if name else ""
            return {"line": exc.lineno, "message": prefix + (exc.message or str(exc))}
    return None


def _template_environment():
    """A sandbox that parses what transformers renders: ``{% break %}``/``{% continue %}`` and
    the ``{% generation %}…{% endgeneration %}`` block that marks assistant text."""
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(extensions=[loopcontrols, generation_block()])


class _UnreadableHeader(Exception):
    """A safetensors file whose header cannot be read (reported as ``checkpoint.error``)."""


def _checkpoint_facts(path: Path) -> dict[str, Any]:
    files = sorted(p.name for p in path.glob("*.safetensors"))
    facts = {"present": bool(files), "files": files, "embedding_tensor": None, "embedding_rows": None, "error": None}
    if not files:
        return facts
    try:
        tensor, rows = _embedding(path, files)
    except _UnreadableHeader as exc:
        return {**facts, "error": str(exc)}
    return {**facts, "embedding_tensor": tensor, "embedding_rows": rows}


def _embedding(path: Path, files: list[str]) -> tuple[str | None, int | None]:
    """The input-embedding tensor's name and row count, found via the shard index when there is one."""
    index = _read_json(path / SAFETENSORS_INDEX)
    if index is None:
        headers = {file: _safetensors_header(path / file) for file in files}
        tensors = {name: file for file, header in headers.items() for name in header}
    else:
        weight_map = index.get("weight_map")
        tensors = weight_map if isinstance(weight_map, dict) else {}
        headers = {}
    name = _embedding_name(tensors)
    if name is None:
        return None, None
    file = tensors[name]
    if file not in files:
        raise _UnreadableHeader(f"{SAFETENSORS_INDEX}: {name} is in {file!r}, which is not a safetensors file of the model directory")
    entry = (headers[file] if file in headers else _safetensors_header(path / file)).get(name)
    shape = entry.get("shape") if isinstance(entry, dict) else None
    rows = shape[0] if isinstance(shape, list) and shape else None
    return name, rows if isinstance(rows, int) and not isinstance(rows, bool) else None


def _embedding_name(tensors: Iterable[str]) -> str | None:
    names = sorted(tensors)
    for suffix in EMBEDDING_SUFFIXES:
        for name in names:
            if name == suffix or name.endswith("." + suffix):
                return name
    return None


def _safetensors_header(file: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file: an 8-byte little-endian length, then the JSON."""
    try:
        with file.open("rb") as stream:
            prefix = stream.read(8)
            if len(prefix) < 8:
                raise _UnreadableHeader(f"{file.name}: shorter than the 8-byte header length")
            (size,) = struct.unpack("<Q", prefix)
            if size > MAX_SAFETENSORS_HEADER:
                raise _UnreadableHeader(f"{file.name}: header of {size} bytes is over the {MAX_SAFETENSORS_HEADER}-byte limit")
            raw = stream.read(size)
    except OSError as exc:
        raise _UnreadableHeader(f"{file.name}: cannot read: {exc.strerror or exc}") from None
    if len(raw) < size:
        raise _UnreadableHeader(f"{file.name}: header is truncated ({len(raw)} of {size} bytes)")
    try:
        header = json.loads(raw)
    except ValueError as exc:
        raise _UnreadableHeader(f"{file.name}: header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _UnreadableHeader(f"{file.name}: header is not a JSON object")
    return header
