"""Bounded readers for the files of a Hugging Face model directory, and the canonical digest.

Model files are larger than policy files (a tokenizer.json of a 256k vocabulary is ~35 MB),
so they get their own limit, ``MAX_MODEL_FILE_BYTES``, checked before a byte is read. A file
that cannot be read, that is over the limit or (for JSON) does not parse raises
`ProviderError` naming the file (and line and column for JSON).

A Git LFS pointer (a clone without ``git lfs pull``, a volume of the repository's checkout)
is a small text file starting ``version https://git-lfs.github.com/spec/v1`` where the model
file should be; it is named as one, whatever file it stands in for::

    …/model/tokenizer.json is a Git LFS pointer: run `git lfs pull`, or mount the real files

rather than reported as invalid JSON or an absurd safetensors header length.

``canonical_sha256(value)`` is the one digest every fingerprint uses: sha256 of the JSON
with sorted keys, compact separators and non-ASCII text kept as UTF-8 (lone surrogates,
which some vocabularies hold, pass through), so key order and formatting never change it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from wfgy_rules.errors import Problem, ProviderError

MAX_MODEL_FILE_BYTES = 256 * 1024 * 1024
# The first line of every Git LFS pointer file (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md).
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"


def lfs_pointer_problem(shown: object) -> str:
    """What to say about a Git LFS pointer found where the model file ``shown`` should be."""
    return f"{shown} is a Git LFS pointer: run `git lfs pull`, or mount the real files"


def read_bytes(path: Path, limit: int = MAX_MODEL_FILE_BYTES) -> bytes | None:
    """The file's bytes, or None when it does not exist; a Git LFS pointer is a `ProviderError`."""
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProviderError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ProviderError(f"{path}: over the {limit}-byte limit for a model file")
    if data.startswith(LFS_POINTER):
        raise ProviderError(lfs_pointer_problem(path))
    return data


def read_text(path: Path) -> str | None:
    """The file as UTF-8 text (a BOM is dropped), or None when it does not exist."""
    data = read_bytes(path)
    if data is None:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProviderError(f"{path}: not UTF-8 text") from None


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when it does not exist; anything else is a `ProviderError`."""
    text = read_text(path)
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProviderError(str(Problem(str(path), f"invalid JSON: {exc.msg}", exc.lineno, exc.colno))) from None
    except RecursionError:
        raise ProviderError(str(Problem(str(path), "invalid JSON: nested too deeply", 1, 1))) from None
    if not isinstance(doc, dict):
        raise ProviderError(str(Problem(str(path), "expected a JSON object", 1, 1)))
    return doc


def canonical_sha256(value: Any) -> str:
    """sha256 (hex) of ``value`` as canonical JSON: sorted keys, compact, UTF-8."""
    return text_sha256(canonical_json(value))


def canonical_json(value: Any) -> str:
    """The canonical JSON text `canonical_sha256` hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_object(members: dict[str, str]) -> str:
    """`canonical_json` of an object whose members' canonical JSON is already known (a large
    vocabulary is serialised once for its own digest and for the fingerprint it is part of)."""
    return "{" + ",".join(f"{canonical_json(key)}:{members[key]}" for key in sorted(members)) + "}"


def text_sha256(text: str) -> str:
    # surrogatepass: a vocabulary may hold lone surrogates ("\ud83d"), which plain UTF-8 refuses.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
