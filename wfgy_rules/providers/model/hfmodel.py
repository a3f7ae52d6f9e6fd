"""What a Hugging Face model directory holds, read without loading the model.

No model library is imported: the JSON files are read as text, a SentencePiece model with a
small protobuf reader, a safetensors file only up to the end of its header, and a chat
template is parsed (never rendered) with jinja2, imported on first use.
``describe_model_dir(path)`` returns four facts, which the ``runtime`` provider shows under
``runtime.model_dir``::

    config:                         # config.json
      present: true
      vocab_size: 128256            # or text_config.vocab_size (multimodal models)
      bos_token_id: 128000
      eos_token_ids: [128001, 128009]   # always a list
      pad_token_id: null
      model_type: llama
      transformers_version: 4.44.2
      per_file: {config.json: {values: {vocab_size: 128256, …}}}   # what `lock` records (below)
    tokenizer:                      # the tokenizer files (`wfgy_rules.providers.model.tokenizer_files`)
      present: true                 # some vocabulary file exists (readable or not: see error)
      format: tokenizer.json        # tokenizer.json | tekken | sentencepiece | gpt2-bpe | wordpiece | null
      files: [tokenizer.json, tokenizer.model, tokenizer_config.json, special_tokens_map.json]   # what sha256 covers
      sha256: 9e7f02d…              # the ids-relevant fingerprint; `wfgy-rules lock` writes it as tokenizer_sha
      per_file: {tokenizer.json: {sha256: …}, tokenizer_config.json: {sha256: …, values: {add_eos_token: false, …}}, …}
      error: null                   # e.g. "tokenizer.model: truncated varint at byte 253150" (sha256 is then null)
      vocab_size: 128256            # max token id + 1, added tokens included
      max_id: 128255
      added_tokens: 256             # tokenizer.json's added_tokens (null for other formats)
      model_type: BPE               # BPE | WordPiece | Unigram | WordLevel; UNIGRAM | BPE … (sentencepiece)
      bos_token: <|begin_of_text|>
      eos_token: <|eot_id|>
      bos_token_id: 128000
      eos_token_id: 128009
      tokenizer_class: PreTrainedTokenizerFast
      chat_template:
        present: true
        source: tokenizer_config.json   # or chat_template.jinja (wins when both exist) or null
        sha256: 41c0…                   # its own fingerprint; `lock` writes it as chat_template_sha
        parseable: false                # null when there is no template
        error: {line: 3, message: "unexpected '}'"}   # line within the template
        per_file: {chat_template: {source: tokenizer_config.json, sha256: 41c0…, lines: "1a2b3c4d …"}}
    generation_config: {present: true, eos_token_ids: [128001, 128008, 128009], bos_token_id: 128000,
                        per_file: {generation_config.json: {values: {…}}}}
    checkpoint: {present: true, files: […], tensors: 291, sha256: 5c2e…, embedding_tensor: model.embed_tokens.weight,
                 embedding_rows: 128256, error: null, per_file: {…}}   # `wfgy_rules.providers.model.checkpoint_files`

Each ``per_file`` is ``{name: record}``: what each file behind a fingerprint (or a small JSON
file behind the card's values) holds, as `wfgy_rules.providers.model.file_records` describes;
``wfgy-rules lock`` writes them to the card's ``files``, so a fingerprint that no longer
matches names the file, key and both values that changed. Empty when the file is absent.

A missing config.json or generation_config.json gives ``present: false`` and null values
(empty lists for ``eos_token_ids``); without a vocabulary file the tokenizer's special tokens,
class and chat template are still read from the other tokenizer files when they exist. A
special token is a plain string or ``{"content": …}``, taken from tokenizer_config.json, else
special_tokens_map.json, else the SentencePiece model's own (trainer spec ``bos_id``/``eos_id``);
its id is looked up in the vocabulary, where added tokens win.

The chat template fingerprint is ``canonical_sha256`` of ``[[name, template], …]`` (name null
for the default template) over the templates in effect: chat_template.jinja when it exists,
else tokenizer_config.json's ``chat_template`` (one string, or a list of ``{name, template}``).
Every character of a template counts (whitespace is rendered into the prompt); where it is
stored does not.

Each file's problem stays in its own section: a JSON file that cannot be read or parsed
(``…/model/config.json:3:18: invalid JSON: Expecting ',' delimiter``, or nested too deeply)
gives ``config.error`` / ``generation_config.error`` (the key is there only then) or
``tokenizer.error``, as does a vocabulary file that is not of its format; a safetensors header
that cannot be read gives ``checkpoint.error``; the other facts stay usable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.model.checkpoint_files import checkpoint_facts
from wfgy_rules.providers.model.file_records import lines_record, settings_record
from wfgy_rules.providers.model.model_files import canonical_sha256, read_json, read_text
from wfgy_rules.providers.prompts.templates.jinja_extension import generation_block
from wfgy_rules.providers.model.tokenizer_files import read_tokenizer_files


def describe_model_dir(path: Path) -> dict[str, Any]:
    """The ``config``, ``tokenizer``, ``generation_config`` and ``checkpoint`` facts of a directory.

    A file that cannot be read or parsed gives its own section an ``error``
    (``FILE:LINE:COL: invalid JSON: …``) and leaves the others as they are.
    """
    return {
        "config": _unless_unreadable(lambda: _config_facts(read_json(path / "config.json")), _config_facts(None)),
        "tokenizer": _unless_unreadable(lambda: _tokenizer_facts(path), _TOKENIZER_UNREADABLE),
        "generation_config": _unless_unreadable(
            lambda: _generation_facts(read_json(path / "generation_config.json")), _generation_facts(None)
        ),
        "checkpoint": _unless_unreadable(lambda: checkpoint_facts(path), _CHECKPOINT_UNREADABLE),
    }


def _unless_unreadable(build: Callable[[], dict[str, Any]], empty: dict[str, Any]) -> dict[str, Any]:
    """One file's facts; when it cannot be read or parsed (invalid JSON, nested too deeply, not
    UTF-8), ``empty`` with ``present: true`` and the ``error``, so the other files' facts, and
    every rule that does not read this one, stay usable."""
    try:
        return build()
    except ProviderError as exc:
        return {**empty, "present": True, "error": str(exc)}


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
        "per_file": _settings("config.json", config),
    }


def _settings(name: str, document: dict[str, Any] | None) -> dict[str, Any]:
    return {} if document is None else {name: settings_record(document, in_fingerprint=False)}


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
        "per_file": _settings("generation_config.json", generation),
    }


def _tokenizer_facts(path: Path) -> dict[str, Any]:
    tokenizer_config = read_json(path / "tokenizer_config.json")
    special_tokens_map = read_json(path / "special_tokens_map.json")
    files = read_tokenizer_files(path, tokenizer_config, special_tokens_map)
    bos = _special_token("bos_token", tokenizer_config or {}, special_tokens_map or {}, files.special_tokens)
    eos = _special_token("eos_token", tokenizer_config or {}, special_tokens_map or {}, files.special_tokens)
    return {
        "present": files.format is not None or files.error is not None,
        "format": files.format,
        "files": files.files,
        "sha256": files.sha256,
        "per_file": files.per_file,
        "error": files.error,
        "vocab_size": files.vocab_size,
        "max_id": files.max_id,
        "added_tokens": files.added_tokens,
        "model_type": files.model_type,
        "bos_token": bos,
        "eos_token": eos,
        "bos_token_id": files.ids.get(bos),
        "eos_token_id": files.ids.get(eos),
        "tokenizer_class": (tokenizer_config or {}).get("tokenizer_class"),
        "chat_template": _chat_template_facts(path, tokenizer_config or {}),
    }


_NO_CHAT_TEMPLATE: dict[str, Any] = {
    "present": False, "source": None, "sha256": None, "parseable": None, "error": None, "undeclared": [], "per_file": {},
}
_CHECKPOINT_UNREADABLE: dict[str, Any] = {
    "present": True, "files": [], "tensors": None, "sha256": None, "embedding_tensor": None, "embedding_rows": None, "error": None,
    "per_file": {},
}
_TOKENIZER_UNREADABLE: dict[str, Any] = {
    "present": True, "format": None, "files": [], "sha256": None, "per_file": {}, "error": None, "vocab_size": None,
    "max_id": None, "added_tokens": None, "model_type": None, "bos_token": None, "eos_token": None, "bos_token_id": None,
    "eos_token_id": None, "tokenizer_class": None, "chat_template": _NO_CHAT_TEMPLATE,
}


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
        return dict(_NO_CHAT_TEMPLATE)
    from wfgy_rules.providers.prompts.templates.placeholders import chat_template_undeclared

    error = _first_syntax_error(templates)
    fingerprint = canonical_sha256([[name, text] for name, text in templates])
    undeclared = chat_template_undeclared(templates)
    return {"present": True, "source": source, "sha256": fingerprint, "parseable": error is None, "error": error, "undeclared": undeclared,
            "per_file": {"chat_template": lines_record(templates, source, fingerprint)}}


def _chat_templates(path: Path, tokenizer_config: dict[str, Any]) -> tuple[list[tuple[str | None, str]], str | None]:
    """``[(name, source)]`` and where they came from; chat_template.jinja wins, as in transformers.

    In tokenizer_config.json, ``chat_template`` is one template or a list of ``{name, template}``.
    """
    text = read_text(path / "chat_template.jinja")
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
