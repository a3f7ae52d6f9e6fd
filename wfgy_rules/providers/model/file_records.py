"""What each file behind a model-directory fingerprint contributed: the records that let a
fingerprint mismatch name the file that changed.

A fingerprint (``tokenizer.sha256``, ``chat_template.sha256``, ``checkpoint.sha256``) is one
digest over several files. Beside it, each section of ``runtime.model_dir`` has ``per_file``,
``{name: record}``, and ``wfgy-rules lock`` writes the same records to the card's ``files``
(``files.tokenizer``, ``files.chat_template``, ``files.checkpoint``, ``files.config``,
``files.generation_config``). Comparing the two (`wfgy_rules.policy.record_changes`) gives
``tokenizer_config.json: add_eos_token false → true`` or ``chat_template: 1 line changed
(line 3)`` instead of two hashes. A record holds any of::

    sha256: 3f1c…                    # the file's part of its fingerprint (canonical JSON digest)
    values: {add_eos_token: false}   # small JSON files: each key whose value is at most
                                     # MAX_VALUE_CHARS characters of canonical JSON
    digests: {added_tokens_decoder: 9b0e…}   # their other keys: a digest each
    lines: "1a2b3c4d 5e6f7a8b …"     # the chat template: 8 hex digits (sha256) per line
    source: tokenizer_config.json    # where the chat template was read from

The small JSON files with ``values`` are tokenizer_config.json (the keys its fingerprint
covers), special_tokens_map.json, config.json and generation_config.json (every key but the
ones that say where the file was loaded from). A line hash, not the template's text, is kept:
enough to count and place the lines that changed; a card stays small and holds no prompt text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from wfgy_rules.jsonvalues import canonical
from wfgy_rules.providers.model.model_files import canonical_sha256

MAX_VALUE_CHARS = 200
LINE_DIGITS = 8
# Keys that say where a JSON file was loaded from, not what it configures.
LOCATION_KEYS = frozenset({"_name_or_path", "name_or_path", "_commit_hash"})

Record = dict[str, Any]


def digest_record(content: Any) -> Record:
    """A file known by its part of a fingerprint only (a vocabulary, a safetensors shard)."""
    return {"sha256": canonical_sha256(content)}


def settings_record(document: dict[str, Any], in_fingerprint: bool = True) -> Record:
    """A small JSON file: its keys' values (or a digest of each large one) and, when it is part
    of a fingerprint, its digest there."""
    record: Record = {"sha256": canonical_sha256(document)} if in_fingerprint else {}
    values: dict[str, Any] = {}
    digests: dict[str, str] = {}
    for key, value in document.items():
        if key in LOCATION_KEYS:
            continue
        if len(_json(value)) <= MAX_VALUE_CHARS:
            values[key] = value
        else:
            digests[key] = canonical_sha256(value)
    if values:
        record["values"] = values
    if digests:
        record["digests"] = digests
    return record


def lines_record(templates: Iterable[tuple[str | None, str]], source: str | None, fingerprint: str) -> Record:
    """The chat template(s): where they were read from, their fingerprint, a hash per line (a
    named template starts with a line of its name)."""
    hashes = []
    for name, text in templates:
        if name is not None:
            hashes.append(line_hash(f"{{# template {name} #}}"))
        hashes.extend(line_hash(line) for line in text.split("\n"))
    return {"source": source, "sha256": fingerprint, "lines": " ".join(hashes)}


def line_hash(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8", "surrogatepass")).hexdigest()[:LINE_DIGITS]


def _json(value: Any) -> str:
    try:
        return canonical(value)
    except ValueError:  # NaN or infinity: shown by its digest
        return "x" * (MAX_VALUE_CHARS + 1)
