"""Sparse safetensors checkpoints for tests: real headers, full file sizes, no disk.

``write_checkpoint(directory, config, tensors=None, shards=1)`` writes ``config.json`` and the
weight files of a model: each file gets a real safetensors header (an 8-byte little-endian
length, then JSON with each tensor's dtype, shape and data_offsets, space-padded to 8 bytes)
and is then extended with ``os.truncate`` to the size its tensors need. The data is a hole in
the file, so a 140 GB Llama-3.1-70B costs a few kilobytes of disk and any reader that only
looks at headers and sizes sees a complete checkpoint.

``tensors`` maps a name to ``(dtype, shape)``; without it the tensor list of a Llama-style
model is built from the config (``llama_tensors``), so the total matches the real model's:
Llama-3-8B / 3.1-8B in BF16 is 16,060,522,496 bytes. With ``shards > 1`` the tensors are split
in order into ``model-0000i-of-0000n.safetensors`` files of about equal size and
``model.safetensors.index.json`` (weight_map and metadata.total_size) is written; one shard is
a single ``model.safetensors``. Returns ``{"files": [names], "weight_bytes": total}``.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any

DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
               "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
TORCH_DTYPES = {"bfloat16": "BF16", "float16": "F16", "float32": "F32"}

Tensors = dict[str, tuple[str, list[int]]]


def write_checkpoint(directory: Path, config: dict[str, Any], tensors: Tensors | None = None,
                     shards: int = 1) -> dict[str, Any]:
    """Write config.json and sparse safetensors weights into ``directory`` (see the module docstring)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    tensors = llama_tensors(config) if tensors is None else tensors
    groups = _split(tensors, shards)
    names = ["model.safetensors"] if shards == 1 else \
        [f"model-{i:05d}-of-{shards:05d}.safetensors" for i in range(1, shards + 1)]
    for name, group in zip(names, groups):
        write_sparse_safetensors(directory / name, group)
    total = sum(tensor_bytes(dtype, shape) for dtype, shape in tensors.values())
    if shards > 1:
        weight_map = {tensor: name for name, group in zip(names, groups) for tensor in group}
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (directory / "model.safetensors.index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return {"files": names, "weight_bytes": total}


def write_sparse_safetensors(path: Path, tensors: Tensors) -> None:
    """One safetensors file: the real header, then a hole as long as the tensors' data."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = tensor_bytes(dtype, shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as stream:
        stream.write(struct.pack("<Q", len(raw)) + raw)
    os.truncate(path, 8 + len(raw) + offset)


def tensor_bytes(dtype: str, shape: list[int]) -> int:
    return DTYPE_BYTES[dtype] * math.prod(shape)


def llama_tensors(config: dict[str, Any]) -> Tensors:
    """The tensors of a Llama-style decoder (Llama, Mistral, Qwen2 with its q/k/v biases) in the config's dtype."""
    dtype = TORCH_DTYPES.get(config.get("torch_dtype") or config.get("dtype"), "BF16")
    hidden, layers, vocab = config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    inter = config["intermediate_size"]
    biased = config.get("attention_bias") or config.get("model_type") == "qwen2"
    tensors: Tensors = {"model.embed_tokens.weight": (dtype, [vocab, hidden])}
    for i in range(layers):
        layer = f"model.layers.{i}"
        projections = {"q_proj": heads * head_dim, "k_proj": kv_heads * head_dim, "v_proj": kv_heads * head_dim}
        for name, rows in projections.items():
            tensors[f"{layer}.self_attn.{name}.weight"] = (dtype, [rows, hidden])
            if biased:
                tensors[f"{layer}.self_attn.{name}.bias"] = (dtype, [rows])
        tensors[f"{layer}.self_attn.o_proj.weight"] = (dtype, [hidden, heads * head_dim])
        tensors[f"{layer}.mlp.gate_proj.weight"] = (dtype, [inter, hidden])
        tensors[f"{layer}.mlp.up_proj.weight"] = (dtype, [inter, hidden])
        tensors[f"{layer}.mlp.down_proj.weight"] = (dtype, [hidden, inter])
        tensors[f"{layer}.input_layernorm.weight"] = (dtype, [hidden])
        tensors[f"{layer}.post_attention_layernorm.weight"] = (dtype, [hidden])
    tensors["model.norm.weight"] = (dtype, [hidden])
    if not config.get("tie_word_embeddings"):
        tensors["lm_head.weight"] = (dtype, [vocab, hidden])
    return tensors


def _split(tensors: Tensors, shards: int) -> list[Tensors]:
    """The tensors in order, cut into ``shards`` groups of about equal bytes (none empty)."""
    if shards < 1 or shards > len(tensors):
        raise ValueError(f"cannot split {len(tensors)} tensors into {shards} shards")
    total = sum(tensor_bytes(*spec) for spec in tensors.values())
    groups: list[Tensors] = [{}]
    done = 0
    items = list(tensors.items())
    for position, (name, spec) in enumerate(items):
        left_after = len(items) - position
        if groups[-1] and len(groups) < shards and (done >= total * len(groups) / shards
                                                     or left_after == shards - len(groups)):
            groups.append({})
        groups[-1][name] = spec
        done += tensor_bytes(*spec)
    return groups
