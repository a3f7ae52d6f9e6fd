"""The fit arithmetic: KV cache per token, the GPU budget, and what it suggests instead."""

from __future__ import annotations

import pytest

from wfgy_rules.providers.serving.fit import GIB, fit_facts

MIB = 1024 * 1024
LLAMA_31_8B = {  # config.json of meta-llama/Llama-3.1-8B-Instruct
    "present": True, "model_type": "llama", "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "head_dim": 128, "torch_dtype": "bfloat16", "attention": "gqa", "sliding_window": None, "derived_context": 131072,
    "quantization": None, "mla": None,
}
WEIGHTS_8B = {"weight_bytes": 16_060_522_496}  # metadata.total_size of its safetensors index
A10G = {"devices": [{"index": 0, "memory_total_mib": 23028, "compute_capability": "8.6"}]}


def launch(**flags):
    return {"engine": "vllm", "tensor_parallel_size": 1, "pipeline_parallel_size": 1, "max_model_len": None, "dtype": "auto",
            "kv_cache_dtype": "auto", "quantization": None, "gpu_memory_utilization": 0.9, "unknown_flags": [], **flags}


def gpus(memory_mib, count=1, capability="8.0"):
    return {"devices": [{"index": i, "memory_total_mib": memory_mib, "compute_capability": capability} for i in range(count)]}


def test_llama_31_8b_on_an_a10g_cannot_hold_its_derived_context():
    fit = fit_facts(launch(), LLAMA_31_8B, WEIGHTS_8B, A10G)
    assert fit["kv_bytes_per_token"] == 2 * 32 * 8 * 128 * 2 == 128 * 1024
    assert fit["max_model_len"] == 131072
    assert fit["kv_gib_for_max_model_len"] == 16.0
    assert fit["budget_bytes"] == int(23028 * MIB * 0.9)
    assert fit["kv_budget_bytes"] == fit["budget_bytes"] - 16_060_522_496
    assert fit["kv_bytes_for_max_model_len"] > fit["kv_budget_bytes"]  # vLLM refuses: 131072 tokens do not fit
    assert fit["suggested_max_model_len"] == 9216
    assert fit["advice"] == "--max-model-len 9216 fits: its KV cache needs 1.12 GiB of the 5.28 GiB left."


def test_the_healthy_twin_fits():
    fit = fit_facts(launch(max_model_len=8192), LLAMA_31_8B, WEIGHTS_8B, A10G)
    assert fit["kv_bytes_for_max_model_len"] == 8192 * 128 * 1024 <= fit["kv_budget_bytes"]


def test_tensor_parallel_splits_weights_and_kv_heads_and_fp8_halves_the_cache():
    fit = fit_facts(launch(tensor_parallel_size=4, kv_cache_dtype="fp8"), LLAMA_31_8B, WEIGHTS_8B, gpus(81920, 4))
    assert fit["gpus_used"] == 4
    assert fit["weight_bytes_per_gpu"] == 16_060_522_496 // 4
    assert fit["kv_bytes_per_token"] == 2 * 32 * (8 // 4) * 128 * 1


def test_fewer_kv_heads_than_ranks_keeps_one_per_rank():
    fit = fit_facts(launch(tensor_parallel_size=16), LLAMA_31_8B, WEIGHTS_8B, gpus(81920, 16))
    assert fit["kv_bytes_per_token"] == 2 * 32 * 1 * 128 * 2


def test_pipeline_stages_split_the_layers():
    fit = fit_facts(launch(pipeline_parallel_size=3), LLAMA_31_8B, WEIGHTS_8B, gpus(81920, 3))
    assert fit["kv_bytes_per_token"] == 2 * 11 * 8 * 128 * 2  # ceil(32 / 3) layers on the first stage


def test_mla_caches_one_latent_per_layer():
    deepseek_v2_lite = {**LLAMA_31_8B, "model_type": "deepseek_v2", "num_hidden_layers": 27, "attention": "mla",
                        "mla": {"kv_lora_rank": 512, "qk_rope_head_dim": 64}, "num_key_value_heads": 16}
    fit = fit_facts(launch(tensor_parallel_size=2), deepseek_v2_lite, {"weight_bytes": 31 * GIB}, gpus(81920, 2))
    assert fit["kv_bytes_per_token"] == 27 * (512 + 64) * 2


@pytest.mark.parametrize("shape,because", [
    ({**LLAMA_31_8B, "sliding_window": 4096}, "sliding-window attention (4096 tokens)"),
    ({**LLAMA_31_8B, "model_type": "jamba"}, "jamba mixes attention"),
    ({"present": False}, "no config.json"),
])
def test_caches_the_formula_does_not_describe_are_not_judged(shape, because):
    fit = fit_facts(launch(), shape, WEIGHTS_8B, A10G)
    assert fit["kv_judged"] is False and because in fit["kv_not_judged_because"]
    assert fit["kv_bytes_for_max_model_len"] is None


@pytest.mark.parametrize("flags,because", [
    ({"quantization": "fp8"}, "--quantization fp8 quantizes a 16-bit checkpoint while loading"),
    ({"flags_given": ["--cpu-offload-gb"]}, "--cpu-offload-gb changes"),
    ({"flags_given": ["--kv-cache-memory-bytes"]}, "--kv-cache-memory-bytes changes"),
])
def test_weights_the_engine_changes_while_loading_are_not_judged(flags, because):
    fit = fit_facts(launch(**flags), LLAMA_31_8B, WEIGHTS_8B, A10G)
    assert because in fit["memory_not_judged_because"]
    assert fit["weight_bytes_per_gpu"] is None and fit["kv_budget_bytes"] is None


def test_a_prequantized_checkpoint_is_judged_as_stored():
    awq = {**LLAMA_31_8B, "quantization": {"method": "awq", "bits": 4}, "torch_dtype": "float16"}
    fit = fit_facts(launch(quantization="awq"), awq, {"weight_bytes": 5_730_000_000}, A10G)
    assert fit["memory_not_judged_because"] is None and fit["weight_bytes_per_gpu"] == 5_730_000_000
    assert fit["dtype"] == "float16"


@pytest.mark.parametrize("given,checkpoint,capability,expected", [
    ("auto", "bfloat16", "8.6", ("bfloat16", "checkpoint")),
    ("auto", "bfloat16", "7.5", ("float16", "platform")),   # vLLM falls back on a T4, with a warning
    ("auto", "float32", "8.0", ("bfloat16", "platform")),
    ("auto", "float32", "7.0", ("float16", "platform")),
    ("auto", None, "8.6", ("bfloat16", "platform")),
    ("auto", "float16", "7.5", ("float16", "checkpoint")),
    ("float16", "bfloat16", "8.6", ("float16", "flag")),
    ("bfloat16", "bfloat16", "7.5", ("bfloat16", "flag")),  # asked for: the dtype rule judges it
])
def test_the_effective_dtype(given, checkpoint, capability, expected):
    gpu = {"devices": [{"index": 0, "memory_total_mib": 23028}], "min_compute_capability": capability}
    fit = fit_facts(launch(dtype=given), {**LLAMA_31_8B, "torch_dtype": checkpoint}, WEIGHTS_8B, gpu)
    assert (fit["dtype"], fit["dtype_from"]) == expected


def test_other_engines_may_use_the_whole_gpu():
    fit = fit_facts(launch(engine="tgi", gpu_memory_utilization=None), LLAMA_31_8B, WEIGHTS_8B, A10G)
    assert fit["budget_bytes"] == 23028 * MIB


def test_tensor_parallel_sizes_that_split_the_heads():
    qwen2_7b = {**LLAMA_31_8B, "num_attention_heads": 28, "num_key_value_heads": 4}
    assert fit_facts(launch(), qwen2_7b, WEIGHTS_8B, A10G)["tensor_parallel_sizes"] == [1, 2, 4]
    assert fit_facts(launch(), LLAMA_31_8B, WEIGHTS_8B, A10G)["tensor_parallel_sizes"] == [1, 2, 4, 8]


def test_auto_max_model_len_is_fitted_by_the_engine_and_not_judged():
    fit = fit_facts(launch(max_model_len_auto_fit=True), LLAMA_31_8B, WEIGHTS_8B, A10G)
    assert fit["kv_judged"] is False and "auto" in fit["kv_not_judged_because"]


def test_without_gpus_the_budget_is_unknown():
    fit = fit_facts(launch(), LLAMA_31_8B, WEIGHTS_8B, {"devices": []})
    assert fit["budget_bytes"] is None and fit["kv_budget_bytes"] is None and fit["kv_capacity_tokens"] is None
