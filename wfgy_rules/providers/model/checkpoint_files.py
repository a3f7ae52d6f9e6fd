"""A safetensors checkpoint described from its headers: input-embedding rows and a fingerprint.

No tensor is loaded: a safetensors file is an 8-byte little-endian header length, then a JSON
header ``{tensor: {dtype, shape, data_offsets}, "__metadata__": {…}}``, then the data, and
only the header is read. ``checkpoint_facts(path)`` gives ``runtime.model_dir.checkpoint``::

    present: true                   # some *.safetensors file exists
    files: [model-00001-of-00002.safetensors, model-00002-of-00002.safetensors]
    tensors: 291                    # tensors in the fingerprint
    sha256: 5c2e…                   # see below; `wfgy-rules lock` writes it as checkpoint_sha
    embedding_tensor: model.embed_tokens.weight
    embedding_rows: 128256
    error: null                     # e.g. "model.safetensors: shorter than the 8-byte header length"
    per_file:                       # each file's part of the fingerprint (`lock` writes it to the card)
      model.safetensors.index.json: {sha256: …}   # its weight_map: which tensor is in which shard
      model-00001-of-00002.safetensors: {sha256: …}   # its tensors' names, dtypes and shapes

**The fingerprint** is ``canonical_sha256`` of ``{tensor name: [dtype, shape]}`` over the
tensors the checkpoint loads: those of ``model.safetensors.index.json``'s ``weight_map``
(each read from the header of the shard the map names) when the index exists, else those of
every ``*.safetensors`` file. Weights, data offsets, ``__metadata__`` and the way tensors are
split into shards are left out, so re-sharding or re-saving the same checkpoint keeps it
(``per_file`` does change then: it says what is in which file, and is compared only when the
fingerprint differs). It
changes when a tensor is added, removed, renamed, re-typed (bf16 → fp8) or re-shaped: a
checkpoint of another architecture, size or quantisation. A checkpoint re-trained with the
same shapes keeps it (telling those apart needs the weights).

The embedding tensor is the first name (sorted) that ends, on whole dotted components, in the
earliest of `EMBEDDING_SUFFIXES`. A header that cannot be read, an index naming a shard that
is not there, a tensor missing from the shard the index names, or a Git LFS pointer in place of a
safetensors file, is reported in ``error``
(with null ``sha256`` and embedding), and the other model-directory facts stay usable.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wfgy_rules.providers.model.file_records import digest_record
from wfgy_rules.providers.model.model_files import LFS_POINTER, canonical_sha256, lfs_pointer_problem, read_json

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


class _Unreadable(Exception):
    """A checkpoint whose headers cannot be read (reported as ``checkpoint.error``)."""


def checkpoint_facts(path: Path) -> dict[str, Any]:
    """``runtime.model_dir.checkpoint`` for the directory ``path`` (see the module docstring)."""
    files = sorted(p.name for p in path.glob("*.safetensors"))
    facts = {"present": bool(files), "files": files, "tensors": None, "sha256": None,
             "embedding_tensor": None, "embedding_rows": None, "error": None, "per_file": {}}
    if not files:
        return facts
    index = read_json(path / SAFETENSORS_INDEX)
    try:
        tensors, shard_of = _tensors(path, files, index)
    except _Unreadable as exc:
        return {**facts, "error": str(exc)}
    fingerprint = {name: [entry.get("dtype"), entry.get("shape")] for name, entry in tensors.items()}
    per_file = {SAFETENSORS_INDEX: digest_record(index["weight_map"])} if index is not None else {}
    for file in sorted(set(shard_of.values())):
        per_file[file] = digest_record({name: fingerprint[name] for name, shard in shard_of.items() if shard == file})
    name = _embedding_name(tensors)
    shape = tensors[name].get("shape") if name is not None else None
    rows = shape[0] if isinstance(shape, list) and shape else None
    return {**facts, "tensors": len(tensors), "sha256": canonical_sha256(fingerprint), "embedding_tensor": name,
            "embedding_rows": rows if isinstance(rows, int) and not isinstance(rows, bool) else None, "per_file": per_file}


def _tensors(path: Path, files: list[str], index: dict[str, Any] | None) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """``{tensor: header entry}`` of what the checkpoint loads (the index's weight_map, else
    every file), and ``{tensor: the file it is read from}``."""
    if index is None:
        tensors: dict[str, dict[str, Any]] = {}
        shard_of: dict[str, str] = {}
        for file in files:
            for name, entry in _entries(path / file).items():
                if name in tensors:
                    raise _Unreadable(f"{file}: tensor {name} is also in another safetensors file and there is no {SAFETENSORS_INDEX}")
                tensors[name] = entry
                shard_of[name] = file
        return tensors, shard_of
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(file, str) for file in weight_map.values()):
        raise _Unreadable(f"{SAFETENSORS_INDEX}: weight_map is not an object of tensor → file names")
    headers: dict[str, dict[str, dict[str, Any]]] = {}
    tensors = {}
    for name in sorted(weight_map):
        file = weight_map[name]
        if file not in files:
            raise _Unreadable(f"{SAFETENSORS_INDEX}: {name} is in {file!r}, which is not a safetensors file of the model directory")
        if file not in headers:
            headers[file] = _entries(path / file)
        if name not in headers[file]:
            raise _Unreadable(f"{SAFETENSORS_INDEX}: {name} is not in the header of {file}")
        tensors[name] = headers[file][name]
    return tensors, {name: weight_map[name] for name in tensors}


def _entries(file: Path) -> dict[str, dict[str, Any]]:
    """The tensor entries of a safetensors header (``__metadata__`` left out)."""
    header = safetensors_header(file)
    entries = {name: entry for name, entry in header.items() if name != "__metadata__"}
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise _Unreadable(f"{file.name}: tensor {name} is not described by an object")
    return entries


def _embedding_name(tensors: Iterable[str]) -> str | None:
    names = sorted(tensors)
    for suffix in EMBEDDING_SUFFIXES:
        for name in names:
            if name == suffix or name.endswith("." + suffix):
                return name
    return None


def safetensors_header(file: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file: an 8-byte little-endian length, then the JSON."""
    try:
        with file.open("rb") as stream:
            prefix = stream.read(8)
            if len(prefix) < 8:
                raise _Unreadable(f"{file.name}: shorter than the 8-byte header length")
            if prefix == LFS_POINTER[:8] and prefix + stream.read(len(LFS_POINTER) - 8) == LFS_POINTER:
                raise _Unreadable(lfs_pointer_problem(file.name))
            (size,) = struct.unpack("<Q", prefix)
            if size > MAX_SAFETENSORS_HEADER:
                raise _Unreadable(f"{file.name}: header of {size} bytes is over the {MAX_SAFETENSORS_HEADER}-byte limit")
            raw = stream.read(size)
    except OSError as exc:
        raise _Unreadable(f"{file.name}: cannot read: {exc.strerror or exc}") from None
    if len(raw) < size:
        raise _Unreadable(f"{file.name}: header is truncated ({len(raw)} of {size} bytes)")
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _Unreadable(f"{file.name}: header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _Unreadable(f"{file.name}: header is not a JSON object")
    return header
