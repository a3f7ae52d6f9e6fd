"""weight_facts over real and sparse checkpoints: sizes from headers, completeness, GGUF, adapters, remote code."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.sparse_checkpoints import llama_tensors, write_checkpoint, write_sparse_safetensors
from wfgy_rules.providers.model.weights import weight_facts

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "serving" / "model_configs"
# metadata.total_size of the published model.safetensors.index.json of each model (BF16)
LLAMA_3_8B_BYTES = 16_060_522_496
LLAMA_3_1_70B_BYTES = 141_107_412_992
QWEN2_5_7B_BYTES = 15_231_233_024


def corpus_config(name: str) -> dict:
    return json.loads((CORPUS / name / "config.json").read_text(encoding="utf-8"))


@pytest.fixture
def llama_3_8b(tmp_path: Path) -> Path:
    """Meta-Llama-3-8B as published: config.json, four sparse BF16 shards and their index."""
    write_checkpoint(tmp_path / "llama", corpus_config("llama-3-8b"), shards=4)
    return tmp_path / "llama"


def test_a_complete_sharded_checkpoint(llama_3_8b):
    facts = weight_facts(llama_3_8b)
    assert facts == {
        "has_config": True, "formats": ["safetensors"], "weight_bytes": LLAMA_3_8B_BYTES,
        "index_total_size": LLAMA_3_8B_BYTES, "dtype_bytes": {"BF16": LLAMA_3_8B_BYTES}, "files": 4,
        "complete": True, "problems": [], "adapter_only": False, "adapter_base_model": None,
        "remote_code_files": [], "gguf": None,
    }


def test_the_sparse_checkpoint_costs_no_disk(llama_3_8b):
    shards = sorted(llama_3_8b.glob("*.safetensors"))
    assert sum(path.stat().st_size for path in shards) > LLAMA_3_8B_BYTES
    assert sum(path.stat().st_blocks * 512 for path in shards) < 1024 * 1024


@pytest.mark.parametrize(("name", "expected"), [("qwen2.5-7b-instruct", QWEN2_5_7B_BYTES),
                                                ("llama-3.1-70b", LLAMA_3_1_70B_BYTES)])
def test_synthesised_tensors_weigh_what_the_real_model_weighs(tmp_path, name, expected):
    write_checkpoint(tmp_path, corpus_config(name), shards=2)
    assert weight_facts(tmp_path)["weight_bytes"] == expected


def test_thirty_shards_of_140_gb_cost_milliseconds(tmp_path):
    write_checkpoint(tmp_path, corpus_config("llama-3.1-70b"), shards=30)
    start = time.perf_counter()
    facts = weight_facts(tmp_path)
    elapsed = time.perf_counter() - start
    assert (facts["weight_bytes"], facts["files"], facts["complete"]) == (LLAMA_3_1_70B_BYTES, 30, True)
    assert elapsed < 0.5, f"{elapsed * 1000:.0f} ms"


def test_files_written_by_the_safetensors_library_are_counted_exactly(tmp_path):
    arrays = {
        "f64": np.zeros((3, 5), np.float64), "f32": np.zeros(7, np.float32), "f16": np.zeros((2, 2, 3), np.float16),
        "i64": np.zeros(4, np.int64), "i32": np.zeros(9, np.int32), "i16": np.zeros(1, np.int16),
        "i8": np.zeros(33, np.int8), "u8": np.zeros((2, 17), np.uint8), "bool": np.zeros(5, np.bool_),
        "empty": np.zeros((0, 4), np.float32),
    }
    save_file(arrays, str(tmp_path / "model.safetensors"))
    facts = weight_facts(tmp_path)
    assert (facts["complete"], facts["problems"]) == (True, [])
    assert facts["weight_bytes"] == sum(array.nbytes for array in arrays.values())
    assert facts["dtype_bytes"] == {"BOOL": 5, "F16": 24, "F32": 28, "F64": 120, "I16": 2, "I32": 36, "I64": 32,
                                    "I8": 33, "U8": 34}


def test_a_truncated_shard_is_named(llama_3_8b):
    shard = llama_3_8b / "model-00002-of-00004.safetensors"
    full = shard.stat().st_size
    os.truncate(shard, full - 4096)
    facts = weight_facts(llama_3_8b)
    assert facts["problems"] == [f"model-00002-of-00004.safetensors is {full - 4096} bytes, its header describes "
                                 f"{full}: truncated (an interrupted download?)"]
    assert (facts["complete"], facts["weight_bytes"], facts["index_total_size"]) == (False, None, LLAMA_3_8B_BYTES)


def test_a_shard_longer_than_its_tensors_is_a_problem(llama_3_8b):
    shard = llama_3_8b / "model-00004-of-00004.safetensors"
    full = shard.stat().st_size
    os.truncate(shard, full + 1)
    assert weight_facts(llama_3_8b)["problems"] == [
        f"model-00004-of-00004.safetensors is {full + 1} bytes, its header describes {full}: longer than its last tensor"]


def test_a_missing_shard_is_named(llama_3_8b):
    (llama_3_8b / "model-00003-of-00004.safetensors").unlink()
    facts = weight_facts(llama_3_8b)
    assert facts["problems"] == ["model.safetensors.index.json names model-00003-of-00004.safetensors, which is missing"]
    assert (facts["complete"], facts["weight_bytes"], facts["files"]) == (False, None, 3)


def test_an_unreadable_header_is_named(llama_3_8b):
    (llama_3_8b / "model-00001-of-00004.safetensors").write_bytes(struct.pack("<Q", 12) + b"{not json!!}")
    facts = weight_facts(llama_3_8b)
    assert facts["problems"] == ["model-00001-of-00004.safetensors: header is not JSON (Expecting property name "
                                 "enclosed in double quotes: line 1 column 2 (char 1))"]
    assert (facts["complete"], facts["weight_bytes"]) == (False, None)


def test_a_tensor_missing_from_the_shard_the_index_names(tmp_path):
    tensors = llama_tensors(corpus_config("llama-3-8b"))
    write_checkpoint(tmp_path, corpus_config("llama-3-8b"), tensors, shards=2)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    index["weight_map"]["model.norm.weight"] = "model-00001-of-00002.safetensors"
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    assert weight_facts(tmp_path)["problems"] == [
        "model.safetensors.index.json places 1 tensors in model-00001-of-00002.safetensors that its header lacks "
        "(first: model.norm.weight)"]


def test_index_total_size_far_from_the_headers_is_a_problem_but_not_incompleteness(llama_3_8b):
    index = json.loads((llama_3_8b / "model.safetensors.index.json").read_text())
    index["metadata"]["total_size"] = 8_030_261_248  # the parameter count, as some converters write it
    (llama_3_8b / "model.safetensors.index.json").write_text(json.dumps(index))
    facts = weight_facts(llama_3_8b)
    assert facts["problems"] == [f"model.safetensors.index.json metadata.total_size is 8030261248 bytes, "
                                 f"the headers add up to {LLAMA_3_8B_BYTES}"]
    assert (facts["complete"], facts["weight_bytes"], facts["index_total_size"]) == \
        (True, LLAMA_3_8B_BYTES, 8_030_261_248)


def test_an_index_that_does_not_parse(llama_3_8b):
    (llama_3_8b / "model.safetensors.index.json").write_text('{"weight_map": {"a": "b",}}')
    facts = weight_facts(llama_3_8b)
    assert facts["problems"] == ["model.safetensors.index.json:1:26: invalid JSON: Expecting property name enclosed "
                                 "in double quotes"]
    assert facts["complete"] is False


@pytest.mark.parametrize(("entry", "problem"), [
    ({"dtype": "Q4_K", "shape": [4], "data_offsets": [0, 2]}, "has dtype 'Q4_K', which safetensors does not define"),
    ({"dtype": "F16", "shape": [4], "data_offsets": [0, 4]}, "spans 4 bytes; F16 x [4] needs 8"),
    ({"dtype": "F16", "shape": "4", "data_offsets": [0, 8]}, "has shape '4', not a list of sizes"),
    ({"dtype": "F16", "shape": [4], "data_offsets": [8]}, "has data_offsets [8], not [begin, end]"),
])
def test_a_malformed_tensor_entry_is_named(tmp_path, entry, problem):
    raw = json.dumps({"w": entry}).encode()
    raw += b" " * (-len(raw) % 8)
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(8))
    facts = weight_facts(tmp_path)
    assert facts["problems"] == [f"model.safetensors: tensor w {problem}"]
    assert facts["complete"] is False


def test_sub_byte_and_fp8_dtypes_are_counted(tmp_path):
    write_sparse_safetensors(tmp_path / "model.safetensors", {})
    raw = json.dumps({"a": {"dtype": "F4", "shape": [4, 8], "data_offsets": [0, 16]},
                      "b": {"dtype": "F8_E4M3", "shape": [16], "data_offsets": [16, 32]},
                      "c": {"dtype": "F6_E2M3", "shape": [4], "data_offsets": [32, 35]}}).encode()
    raw += b" " * (-len(raw) % 8)
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(35))
    facts = weight_facts(tmp_path)
    assert (facts["dtype_bytes"], facts["complete"]) == ({"F4": 16, "F6_E2M3": 3, "F8_E4M3": 16}, True)


def test_a_consolidated_copy_beside_the_shards_is_counted_once(tmp_path):
    # Mistral-7B-Instruct-v0.3's layout: vLLM loads consolidated.safetensors and ignores the shards
    config = corpus_config("llama-3-8b")
    write_checkpoint(tmp_path, config, shards=3)
    write_sparse_safetensors(tmp_path / "consolidated.safetensors", llama_tensors(config))
    facts = weight_facts(tmp_path)
    assert (facts["weight_bytes"], facts["files"], facts["complete"]) == (LLAMA_3_8B_BYTES, 4, True)


def test_shards_the_index_does_not_name_are_not_counted(llama_3_8b):
    write_sparse_safetensors(llama_3_8b / "extra.safetensors", {"x": ("F32", [1024])})
    assert weight_facts(llama_3_8b)["weight_bytes"] == LLAMA_3_8B_BYTES


def test_pickle_weights_are_a_format_only(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(corpus_config("llama-3-8b")))
    for name in ("pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin", "training_args.bin",
                 "optimizer.pt", "scheduler.pt", "rng_state.pth"):
        (tmp_path / name).write_bytes(b"PK\x03\x04")
    facts = weight_facts(tmp_path)
    assert (facts["formats"], facts["files"], facts["weight_bytes"], facts["complete"]) == \
        (["pytorch_bin"], 2, None, None)


@pytest.mark.parametrize("name", ["consolidated.00.pth", "model.pt"])
def test_pt_and_pth_files_are_pickle_weights(tmp_path, name):
    (tmp_path / name).write_bytes(b"PK")
    assert weight_facts(tmp_path)["formats"] == ["pytorch_bin"]


def test_an_adapter_directory(tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": "meta-llama/Meta-Llama-3.1-8B-Instruct", "peft_type": "LORA", "r": 16,
         "target_modules": ["q_proj", "v_proj"]}))
    write_sparse_safetensors(tmp_path / "adapter_model.safetensors",
                             {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": ("F32", [16, 4096])})
    facts = weight_facts(tmp_path)
    assert (facts["adapter_only"], facts["adapter_base_model"], facts["has_config"], facts["weight_bytes"]) == \
        (True, "meta-llama/Meta-Llama-3.1-8B-Instruct", False, 16 * 4096 * 4)


def test_an_adapter_beside_a_full_model_is_not_adapter_only(llama_3_8b):
    (llama_3_8b / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "base"}))
    (llama_3_8b / "adapter_model.bin").write_bytes(b"PK")
    facts = weight_facts(llama_3_8b)
    assert (facts["adapter_only"], facts["adapter_base_model"]) == (False, "base")


def test_an_empty_or_missing_directory(tmp_path):
    facts = weight_facts(tmp_path / "nowhere")
    assert (facts["formats"], facts["files"], facts["weight_bytes"], facts["complete"], facts["has_config"]) == \
        ([], 0, None, None, False)


class TestRemoteCode:
    """The .py files auto_map names, with what they import relatively, hashed."""

    MODELING = b"import torch\nfrom .configuration_deepseek import DeepseekV3Config\n"
    CONFIGURATION = b"from transformers import PretrainedConfig\n"

    def test_deepseek_v3_auto_map(self, tmp_path):
        (tmp_path / "config.json").write_text(json.dumps(corpus_config("deepseek-v3")))
        (tmp_path / "modeling_deepseek.py").write_bytes(self.MODELING)
        (tmp_path / "configuration_deepseek.py").write_bytes(self.CONFIGURATION)
        assert weight_facts(tmp_path)["remote_code_files"] == [
            {"name": "configuration_deepseek.py", "sha256": hashlib.sha256(self.CONFIGURATION).hexdigest(),
             "present": True, "repo": None},
            {"name": "modeling_deepseek.py", "sha256": hashlib.sha256(self.MODELING).hexdigest(),
             "present": True, "repo": None},
        ]

    def test_relative_imports_are_followed_even_when_missing(self, tmp_path):
        (tmp_path / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": "modeling_x.XModel"}}))
        (tmp_path / "modeling_x.py").write_bytes(b"from .helpers_x import f\nimport .rotary_x\n")
        files = weight_facts(tmp_path)["remote_code_files"]
        assert [(entry["name"], entry["present"]) for entry in files] == \
            [("helpers_x.py", False), ("modeling_x.py", True), ("rotary_x.py", False)]

    def test_tokenizer_lists_other_repositories_and_paths(self, tmp_path):
        (tmp_path / "config.json").write_text(json.dumps({"auto_map": {
            "AutoConfig": "THUDM/chatglm3-6b--configuration_chatglm.ChatGLMConfig",
            "AutoModel": "../../etc/passwd.X"}}))
        (tmp_path / "tokenizer_config.json").write_text(json.dumps({"auto_map": {
            "AutoTokenizer": ["tokenization_chatglm.ChatGLMTokenizer", None]}}))
        assert weight_facts(tmp_path)["remote_code_files"] == [
            {"name": "configuration_chatglm.py", "sha256": None, "present": False, "repo": "THUDM/chatglm3-6b"},
            {"name": "tokenization_chatglm.py", "sha256": None, "present": False, "repo": None},
        ]

    def test_a_config_that_does_not_parse_is_a_problem_not_a_crash(self, tmp_path):
        (tmp_path / "config.json").write_text('{"auto_map": ')
        facts = weight_facts(tmp_path)
        assert facts["problems"] == ["config.json:1:14: invalid JSON: Expecting value"]
        assert facts["remote_code_files"] == []


def write_gguf(path: Path, metadata: dict[str, str | int], size: int) -> None:
    """A GGUF v3 file: magic, version, no tensors, the metadata (strings and uint32), then a hole to ``size``."""
    def text(value: str) -> bytes:
        return struct.pack("<Q", len(value.encode())) + value.encode()

    data = b"GGUF" + struct.pack("<IQQ", 3, 0, len(metadata))
    for key, value in metadata.items():
        data += text(key) + (struct.pack("<I", 8) + text(value) if isinstance(value, str)
                             else struct.pack("<II", 4, value))
    path.write_bytes(data)
    os.truncate(path, size)


GGUF_METADATA = {"general.architecture": "llama", "llama.context_length": 8192}


def test_gguf_without_the_gguf_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gguf", None)  # as when it is not installed
    write_gguf(tmp_path / "Meta-Llama-3-8B-Instruct-Q4_K_M.gguf", GGUF_METADATA, 4_920_734_016)
    facts = weight_facts(tmp_path)
    assert (facts["formats"], facts["weight_bytes"], facts["complete"]) == (["gguf"], 4_920_734_016, None)
    assert facts["gguf"] == {"file": "Meta-Llama-3-8B-Instruct-Q4_K_M.gguf", "context_length": None,
                             "architecture": None}


def test_gguf_split_parts_add_up(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gguf", None)
    for part in (1, 2):
        write_gguf(tmp_path / f"Llama-3.1-70B-Q8_0-0000{part}-of-00002.gguf", GGUF_METADATA, 40_000_000_000)
    write_gguf(tmp_path / "other-Q4_0.gguf", GGUF_METADATA, 1000)
    facts = weight_facts(tmp_path)
    assert (facts["weight_bytes"], facts["gguf"]["file"]) == (80_000_000_000, "Llama-3.1-70B-Q8_0-00001-of-00002.gguf")


def test_gguf_metadata_through_the_gguf_package(tmp_path):
    pytest.importorskip("gguf")
    write_gguf(tmp_path / "model.gguf", GGUF_METADATA, 1 << 20)
    assert weight_facts(tmp_path)["gguf"] == {"file": "model.gguf", "context_length": 8192, "architecture": "llama"}
