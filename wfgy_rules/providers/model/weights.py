"""What a model directory's weights weigh, and whether they are all there: headers only.

``weight_facts(path)`` looks at the files of a model directory (not its subdirectories) and
reads no tensor: a safetensors file costs one read of its header, so a 140 GB checkpoint of
30 shards is described in milliseconds. For a complete Llama-3.1-8B-Instruct::

    has_config: true
    formats: [safetensors]          # present ones, sorted: gguf | pytorch_bin | safetensors
    weight_bytes: 16060522496       # the loaded tensors: dtype size x product of shape (null: incomplete)
    index_total_size: 16060522496   # model.safetensors.index.json metadata.total_size (null without)
    dtype_bytes: {BF16: 16060522496}
    files: 4                        # weight files of every format
    complete: true                  # null when there is nothing to check (no safetensors)
    problems: []
    adapter_only: false             # adapter_config.json + adapter weights and no config.json
    adapter_base_model: null        # adapter_config.json base_model_name_or_path
    remote_code_files: []           # what --trust-remote-code runs (`wfgy_rules.providers.model.remote_code`)
    gguf: null                      # {file, context_length, architecture} for a GGUF model

**Which safetensors files count** is what vLLM's default loader (``--load-format auto``)
loads: the ``consolidated*.safetensors`` files when there are any (Mistral's own format, with
``consolidated.safetensors.index.json``), else every ``*.safetensors`` file, narrowed to those
``model.safetensors.index.json`` names when it exists (a directory holding both shards and a
consolidated copy is counted once). Pickle weights (``pytorch_model*.bin``, ``*.pt``,
``*.pth``, but not a trainer's ``optimizer.pt``, ``scheduler.pt``…) are a format only: their
size is not read from them.

**Completeness** (``complete: false`` and a problem naming the file): a file the index names is
missing; a header cannot be read; a tensor the index places in a file is not in its header; a
tensor's dtype is not a safetensors dtype, or its ``data_offsets`` do not span dtype x shape;
a file's size is not 8 + header length + the end of its last tensor (a truncated download is
shorter, and says so); the index does not parse. A complete checkpoint whose index
``total_size`` differs from the headers' sum by more than 1% has that problem too (both sizes
are kept). A config.json, tokenizer_config.json or adapter_config.json that does not parse is
listed among the problems (its ``auto_map`` or base model is then unknown) without making the
weights incomplete.

**GGUF** (``*.gguf``, llama.cpp): ``weight_bytes`` is the file size (all parts of a split
``-00001-of-00003.gguf`` model); with several GGUF models in one directory the first by name
is described. ``context_length`` and ``architecture`` come from the file's metadata when the
``gguf`` package (llama.cpp's own reader) is installed, else they are null.
"""

from __future__ import annotations

import math
import os
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.model.checkpoint_files import SAFETENSORS_INDEX, _Unreadable, safetensors_header
from wfgy_rules.providers.model.model_files import read_json
from wfgy_rules.providers.model.remote_code import remote_code_files

# Bits per element of each dtype the safetensors format defines (its Rust `Dtype` enum).
DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64, "C64": 64,
}
CONSOLIDATED_INDEX = "consolidated.safetensors.index.json"
PICKLE_WEIGHTS = re.compile(r"pytorch_model.*\.bin|.*\.pt|.*\.pth")
# Trainer state that vLLM's filter_files_not_needed_for_inference leaves out (and rng_state.pth).
NOT_WEIGHTS = frozenset({"training_args.bin", "optimizer.bin", "optimizer.pt", "scheduler.pt", "scaler.pt",
                         "rng_state.pth"})
GGUF_SPLIT = re.compile(r"(.*)-\d{5}-of-\d{5}\.gguf")
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
TOTAL_SIZE_TOLERANCE = 0.01
# Problems that make a checkpoint incomplete are listed at most this many per file.
MAX_TENSOR_PROBLEMS = 3


def weight_facts(path: Path) -> dict[str, Any]:
    """The weight facts of the model directory ``path`` (see the module docstring)."""
    names = _file_names(path)
    problems: list[str] = []
    config = _json(path, "config.json", names, problems)
    tokenizer_config = _json(path, "tokenizer_config.json", names, problems)
    adapter_config = _json(path, "adapter_config.json", names, problems)
    safetensors = sorted(name for name in names if name.endswith(".safetensors"))
    pickles = sorted(name for name in names if PICKLE_WEIGHTS.fullmatch(name) and name not in NOT_WEIGHTS)
    ggufs = sorted(name for name in names if name.endswith(".gguf"))
    formats = sorted(fmt for fmt, files in (("safetensors", safetensors), ("pytorch_bin", pickles), ("gguf", ggufs))
                     if files)
    facts: dict[str, Any] = {
        "has_config": "config.json" in names, "formats": formats, "weight_bytes": None, "index_total_size": None,
        "dtype_bytes": {}, "files": len(safetensors) + len(pickles) + len(ggufs), "complete": None,
        "problems": problems,
        "adapter_only": "adapter_config.json" in names and "config.json" not in names
        and any(name in names for name in ADAPTER_WEIGHTS),
        "adapter_base_model": _base_model(adapter_config),
        "remote_code_files": remote_code_files(path, config, tokenizer_config),
        "gguf": None,
    }
    if safetensors:
        facts.update(_safetensors_facts(path, names, safetensors, problems))
    if ggufs:
        gguf, size = _gguf_facts(path, ggufs)
        facts["gguf"] = gguf
        if not safetensors:
            facts["weight_bytes"] = size
    return facts


def _file_names(path: Path) -> set[str]:
    try:
        with os.scandir(path) as entries:
            return {entry.name for entry in entries if entry.is_file()}
    except OSError:
        return set()


def _json(path: Path, name: str, names: set[str], problems: list[str]) -> dict[str, Any] | None:
    if name not in names:
        return None
    try:
        return read_json(path / name)
    except ProviderError as exc:
        problems.append(str(exc).replace(str(path / name), name, 1))
        return None


def _base_model(adapter_config: dict[str, Any] | None) -> str | None:
    base = adapter_config.get("base_model_name_or_path") if adapter_config else None
    return base if isinstance(base, str) else None


def _safetensors_facts(path: Path, names: set[str], safetensors: list[str], problems: list[str]) -> dict[str, Any]:
    before = len(problems)
    consolidated = [name for name in safetensors if name.startswith("consolidated")]
    index_name = CONSOLIDATED_INDEX if consolidated else SAFETENSORS_INDEX
    index = _json(path, index_name, names, problems)
    weight_map = _weight_map(index, index_name, problems)
    loaded = consolidated or safetensors
    if weight_map is not None:
        indexed = set(weight_map.values())
        problems.extend(f"{index_name} names {file}, which is missing" for file in sorted(indexed - names))
        loaded = [name for name in loaded if name in indexed]
    dtype_bytes: dict[str, int] = {}
    for file in loaded:
        tensors = _checked_file(path / file, dtype_bytes, problems)
        if tensors is not None and weight_map is not None:
            _check_placement(file, tensors, weight_map, index_name, problems)
    complete = len(problems) == before
    weight_bytes = sum(dtype_bytes.values())
    total_size = _total_size(index)
    if complete and total_size is not None and abs(total_size - weight_bytes) > TOTAL_SIZE_TOLERANCE * weight_bytes:
        problems.append(f"{index_name} metadata.total_size is {total_size} bytes, the headers add up to "
                        f"{weight_bytes}")
    return {"weight_bytes": weight_bytes if complete else None, "index_total_size": total_size,
            "dtype_bytes": dict(sorted(dtype_bytes.items())), "complete": complete}


def _weight_map(index: dict[str, Any] | None, index_name: str, problems: list[str]) -> dict[str, str] | None:
    if index is None:
        return None
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, Mapping) or not all(isinstance(file, str) for file in weight_map.values()):
        problems.append(f"{index_name}: weight_map is not an object of tensor -> file names")
        return None
    return dict(weight_map)


def _total_size(index: dict[str, Any] | None) -> int | None:
    metadata = index.get("metadata") if index else None
    total = metadata.get("total_size") if isinstance(metadata, Mapping) else None
    if isinstance(total, float) and total.is_integer():
        total = int(total)
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _checked_file(file: Path, dtype_bytes: dict[str, int], problems: list[str]) -> set[str] | None:
    """Add the file's tensor bytes to ``dtype_bytes``; its problems to ``problems``; its tensor names."""
    try:
        header = safetensors_header(file)
        header_length = _header_length(file)
        size = file.stat().st_size
    except _Unreadable as exc:
        problems.append(str(exc))
        return None
    except OSError as exc:
        problems.append(f"{file.name}: cannot read: {exc.strerror or exc}")
        return None
    tensors = {name: entry for name, entry in header.items() if name != "__metadata__"}
    end, bad = 0, []
    for name, entry in tensors.items():
        length, error = _tensor_bytes(entry)
        if error is not None:
            bad.append(f"{file.name}: tensor {name} {error}")
            continue
        dtype_bytes[entry["dtype"]] = dtype_bytes.get(entry["dtype"], 0) + length
        end = max(end, entry["data_offsets"][1])
    problems.extend(bad[:MAX_TENSOR_PROBLEMS])
    if len(bad) > MAX_TENSOR_PROBLEMS:
        problems.append(f"{file.name}: {len(bad) - MAX_TENSOR_PROBLEMS} more tensors like these")
    expected = 8 + header_length + end
    if not bad and size != expected:
        what = "truncated (an interrupted download?)" if size < expected else "longer than its last tensor"
        problems.append(f"{file.name} is {size} bytes, its header describes {expected}: {what}")
    return set(tensors)


def _header_length(file: Path) -> int:
    with file.open("rb") as stream:
        return struct.unpack("<Q", stream.read(8))[0]


def _tensor_bytes(entry: Any) -> tuple[int, str | None]:
    """The bytes of one header entry, or why it cannot be counted."""
    if not isinstance(entry, Mapping):
        return 0, "is not described by an object"
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    bits = DTYPE_BITS.get(dtype) if isinstance(dtype, str) else None
    if bits is None:
        return 0, f"has dtype {dtype!r}, which safetensors does not define"
    if not isinstance(shape, list) or not all(_count(dim) for dim in shape):
        return 0, f"has shape {shape!r}, not a list of sizes"
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_count(o) for o in offsets)
            and offsets[0] <= offsets[1]):
        return 0, f"has data_offsets {offsets!r}, not [begin, end]"
    total_bits = math.prod(shape) * bits
    if total_bits % 8 or offsets[1] - offsets[0] != total_bits // 8:
        return 0, f"spans {offsets[1] - offsets[0]} bytes; {dtype} x {shape} needs {total_bits / 8:g}"
    return total_bits // 8, None


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_placement(file: str, tensors: set[str], weight_map: dict[str, str], index_name: str,
                     problems: list[str]) -> None:
    absent = sorted(name for name, where in weight_map.items() if where == file and name not in tensors)
    if absent:
        problems.append(f"{index_name} places {len(absent)} tensors in {file} that its header lacks "
                        f"(first: {absent[0]})")


def _gguf_facts(path: Path, ggufs: list[str]) -> tuple[dict[str, Any], int]:
    first = ggufs[0]
    split = GGUF_SPLIT.fullmatch(first)
    parts = [name for name in ggufs if (part := GGUF_SPLIT.fullmatch(name)) and part[1] == split[1]] if split \
        else [first]
    size = sum((path / name).stat().st_size for name in parts)
    context_length, architecture = _gguf_metadata(path / first)
    return {"file": first, "context_length": context_length, "architecture": architecture}, size


def _gguf_metadata(file: Path) -> tuple[int | None, str | None]:
    """``{arch}.context_length`` and ``general.architecture`` through the gguf package, when installed."""
    try:
        import gguf  # llama.cpp's reader; optional
    except ImportError:
        return None, None
    try:
        reader = gguf.GGUFReader(str(file))
        architecture = _gguf_value(reader, "general.architecture")
        context = _gguf_value(reader, f"{architecture}.context_length") if isinstance(architecture, str) else None
    except (OSError, ValueError, KeyError, IndexError):
        return None, None
    return (context if isinstance(context, int) else None), (architecture if isinstance(architecture, str) else None)


def _gguf_value(reader: Any, key: str) -> Any:
    field = reader.get_field(key)
    return field.contents() if field is not None else None
