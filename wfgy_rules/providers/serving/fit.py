"""The arithmetic of "will it fit?": weights, KV cache and the GPU budget, per GPU.

``fit_facts(launch, shape, weights, gpus)`` combines the launch (`launch.parse_launch`), the
model's shape (`wfgy_rules.providers.model.shape`), its weights
(`wfgy_rules.providers.model.weights`) and the visible GPUs (`gpus.visible_gpus`) into
``serving.fit``. Every number is per GPU, for the smallest of the GPUs the launch uses (the
first ``tensor × pipeline`` visible ones); a number that cannot be known is null, and a rule
over it skips or errors instead of guessing.

**KV cache per token** = 2 (K and V) × layers on this GPU × KV heads on this GPU × head_dim ×
bytes of the KV dtype (``auto``: the model's dtype; ``fp8*``: 1 byte). Layers split across
pipeline stages; KV heads split across tensor-parallel ranks, and a model with fewer KV heads
than ranks keeps one per rank (the engines replicate them). MLA models (DeepSeek-V2/V3) cache
one compressed latent per layer instead: layers × (kv_lora_rank + qk_rope_head_dim) × bytes,
the same on every rank. Llama-3-8B in bf16 on one GPU: 2 × 32 × 8 × 128 × 2 = 128 KiB/token.

**The budget** is vLLM's: ``gpu_memory_utilization`` (default 0.9) × the GPU's memory. What is
left for the KV cache after the weights is an *upper bound* of what vLLM finds: vLLM also
subtracts the activation peak of its profiling run and memory outside torch, which depend on
the batch size and the build, so the gate fails a launch only when even that upper bound
cannot hold one sequence of ``max_model_len`` tokens — a launch the engine surely refuses
(``The model's max seq len (N) is larger than the maximum number of tokens that can be stored
in KV cache (M)`` or ``No available memory for the cache blocks``). The value it suggests
instead keeps `SUGGESTION_RESERVE_BYTES` and a tenth of the rest free, so it fits in practice
(vLLM kept 3.4 GiB beyond the weights for Llama-3.1-8B on an RTX 3090, the largest reserve in
the tracker reports of ``tests/corpus/serving``). Engines other than vLLM have no
utilisation setting here: their budget is the whole GPU.

Weights are the checkpoint's as stored. Where the engine changes them while loading — online
quantization (``--quantization fp8`` or ``bitsandbytes`` on a 16-bit checkpoint), weights
offloaded to CPU (``--cpu-offload-gb``), a KV cache sized by hand (``--kv-cache-memory``,
``--num-gpu-blocks-override``) — the weights and KV numbers are null with the reason in
``memory_not_judged_because``, and the rules over them skip.

``kv_judged`` is false where this arithmetic does not describe the engine's cache: sliding
window attention shorter than the context, hybrid attention/state-space models, an unknown
attention layout. The KV rule then skips with that reason.

Facts (``serving.fit``)::

    dtype: bfloat16                     # effective: auto -> the checkpoint's where the GPU has it
    dtype_from: checkpoint              # flag | checkpoint | platform
    kv_cache_dtype: bfloat16
    kv_bytes_per_element: 2
    gpus_used: 1                        # tensor × pipeline parallel size
    gpu_memory_bytes: 24146608128       # the smallest GPU used; null without NVML
    gpu_memory_gib: 22.49
    budget_bytes: 21731947315           # × gpu_memory_utilization
    budget_gib: 20.24
    memory_not_judged_because: null     # e.g. "--quantization fp8 quantizes a 16-bit checkpoint while loading"
    weight_bytes: 16060522496           # the checkpoint's, from the safetensors headers
    weight_bytes_per_gpu: 16060522496
    weight_gib_per_gpu: 14.96
    kv_judged: true
    kv_not_judged_because: null
    kv_bytes_per_token: 131072
    max_model_len: 131072               # the launch's, else the context the engine defaults to
    kv_bytes_for_max_model_len: 17179869184
    kv_gib_for_max_model_len: 16.0
    kv_budget_bytes: 5671425331         # budget - weights per GPU (an upper bound: see above)
    kv_budget_gib: 5.28
    kv_capacity_tokens: 43269           # kv_budget_bytes // kv_bytes_per_token
    suggested_max_model_len: 8192       # fits with the reserve kept free; null if none does
    suggested_kv_gib: 1.0
    advice: "--max-model-len 8192 fits: its KV cache needs 1.0 GiB of the 5.28 GiB left."
    tensor_parallel_sizes: [1, 2, 4, 8] # sizes up to 8 that split the attention and KV heads evenly
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfgy_rules.policy import versions

GIB = 1024**3
# Kept free by the suggestion only (never by the verdict): beyond the weights vLLM keeps its
# profiling run's activation peak, CUDA graphs and memory outside torch (3.4 GiB for
# Llama-3.1-8B on an RTX 3090, vllm-project/vllm#10517; tests/corpus/serving).
SUGGESTION_RESERVE_BYTES = 4 * GIB
OLDEST_DEFAULT_UTILIZATION = 0.9  # vLLM <= 0.11's gpu_memory_utilization default (1.0 in 0.34: gpu_requirements.yaml)
SUGGESTION_HEADROOM = 0.9  # a suggested length leaves a tenth of the KV budget unused
SUGGESTION_STEP = 1024  # suggestions are multiples of this many tokens (when at least one fits)
DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4}
# Quantization methods that convert 16-bit weights while loading (a checkpoint without its own
# quantization_config): the stored size is not what the GPU holds.
ONLINE_QUANTIZATION = frozenset({"fp8", "bitsandbytes", "ptpc_fp8", "fbgemm_fp8", "experts_int8", "torchao", "inc", "mxfp4", "fp_quant"})
# vLLM flags that change what the weights or the KV cache take on the GPU.
MEMORY_FLAGS = ("--cpu-offload-gb", "--kv-cache-memory", "--kv-cache-memory-bytes", "--num-gpu-blocks-override")
MAX_SUGGESTED_TENSOR_PARALLEL = 8
# model_type values whose cache is not (only) attention KV: state-space or linear layers.
HYBRID_MODEL_TYPES = frozenset({
    "jamba", "mamba", "mamba2", "falcon_h1", "falcon_mamba", "zamba", "zamba2", "bamba", "nemotron_h",
    "granitemoehybrid", "qwen3_next", "lfm2", "minimax", "minimax_text_01", "plamo2", "recurrent_gemma", "rwkv",
})


def effective_dtype(launch: Mapping[str, Any], shape: Mapping[str, Any], capability: str | None) -> tuple[str | None, str]:
    """The dtype the engine runs the model in, and where it came from (``flag``,
    ``checkpoint`` or ``platform``), as vLLM resolves ``--dtype auto`` (gpu_requirements.yaml
    ``auto_dtype``): a 16-bit checkpoint keeps its dtype where the GPU has it, and bfloat16
    falls back to float16 below compute capability 8.0; a float32 (or unstated) checkpoint
    takes the platform's first dtype, bfloat16 from 8.0, float16 below (or without a GPU)."""
    dtype = launch.get("dtype") or "auto"
    if dtype != "auto":
        return dtype, "flag"
    has_bf16 = capability is not None and versions.compare(capability, "8.0") >= 0
    checkpoint = shape.get("torch_dtype")
    if checkpoint == "float16" or (checkpoint == "bfloat16" and has_bf16):
        return checkpoint, "checkpoint"
    return ("bfloat16" if has_bf16 else "float16"), "platform"


def fit_facts(launch: Mapping[str, Any], shape: Mapping[str, Any], weights: Mapping[str, Any],
              gpus: Mapping[str, Any]) -> dict[str, Any]:
    """``serving.fit`` (see the module docstring)."""
    tensor = _positive(launch.get("tensor_parallel_size")) or 1
    pipeline = _positive(launch.get("pipeline_parallel_size")) or 1
    used = tensor * pipeline
    dtype, dtype_from = effective_dtype(launch, shape, gpus.get("min_compute_capability"))
    kv_dtype, kv_bytes = _kv_dtype(launch.get("kv_cache_dtype"), dtype)
    memory = _smallest_memory(gpus, used)
    utilization = launch.get("gpu_memory_utilization") if launch.get("engine") == "vllm" else None
    budget = int(memory * (utilization if isinstance(utilization, (int, float)) else 1.0)) if memory is not None else None
    memory_because = _memory_not_judged(launch, shape)
    weight_bytes = weights.get("weight_bytes") or weights.get("index_total_size")
    per_gpu = -(-weight_bytes // used) if isinstance(weight_bytes, int) and memory_because is None else None
    judged, because = _kv_judged(shape, launch)
    per_token = _kv_bytes_per_token(shape, tensor, pipeline, kv_bytes) if judged else None
    max_len = _context(launch, shape)
    kv_for_max = per_token * max_len if per_token is not None and isinstance(max_len, int) else None
    kv_budget = budget - per_gpu if budget is not None and per_gpu is not None else None
    capacity = max(kv_budget, 0) // per_token if kv_budget is not None and per_token else None
    suggested = _suggestion(_suggestion_budget(launch, memory, per_gpu, kv_budget), per_token, max_len)
    return {
        "dtype": dtype,
        "dtype_from": dtype_from,
        "kv_cache_dtype": kv_dtype,
        "kv_bytes_per_element": kv_bytes,
        "gpus_used": used,
        "gpu_memory_bytes": memory,
        "gpu_memory_gib": _gib(memory),
        "budget_bytes": budget,
        "budget_gib": _gib(budget),
        "memory_not_judged_because": memory_because,
        "weight_bytes": weight_bytes if isinstance(weight_bytes, int) else None,
        "weight_bytes_per_gpu": per_gpu,
        "weight_gib_per_gpu": _gib(per_gpu),
        "kv_judged": judged,
        "kv_not_judged_because": because,
        "kv_bytes_per_token": per_token,
        "max_model_len": max_len if isinstance(max_len, int) else None,
        "kv_bytes_for_max_model_len": kv_for_max,
        "kv_gib_for_max_model_len": _gib(kv_for_max),
        "kv_budget_bytes": kv_budget,
        "kv_budget_gib": _gib(kv_budget),
        "kv_capacity_tokens": capacity,
        "suggested_max_model_len": suggested,
        "suggested_kv_gib": _gib(suggested * per_token) if suggested and per_token else None,
        "advice": _advice(suggested, per_token, kv_budget),
        "tensor_parallel_sizes": _tensor_parallel_sizes(shape),
    }


def _memory_not_judged(launch: Mapping[str, Any], shape: Mapping[str, Any]) -> str | None:
    """Why the stored weights are not what the GPU will hold, or None when they are."""
    method = launch.get("quantization")
    if method in ONLINE_QUANTIZATION and not shape.get("quantization"):
        return f"--quantization {method} quantizes a 16-bit checkpoint while loading"
    given = set(launch.get("flags_given") or ()) | set(launch.get("unknown_flags") or ())
    for flag in MEMORY_FLAGS:
        if flag in given:
            return f"{flag} changes what the weights or the KV cache take on the GPU"
    return None


def _tensor_parallel_sizes(shape: Mapping[str, Any]) -> list[int]:
    """Tensor-parallel sizes up to `MAX_SUGGESTED_TENSOR_PARALLEL` that split the attention heads
    evenly and whose KV heads divide evenly (or, fewer than the ranks, divide the ranks)."""
    heads, kv_heads = shape.get("num_attention_heads"), shape.get("num_key_value_heads")
    if not isinstance(heads, int) or heads <= 0:
        return []
    sizes = []
    for size in range(1, MAX_SUGGESTED_TENSOR_PARALLEL + 1):
        kv_ok = (not isinstance(kv_heads, int) or kv_heads <= 0 or shape.get("attention") == "mla"
                 or (kv_heads % size == 0 if kv_heads >= size else size % kv_heads == 0))
        if heads % size == 0 and kv_ok:
            sizes.append(size)
    return sizes


def _advice(suggested: int | None, per_token: int | None, kv_budget: int | None) -> str | None:
    """What to change, for the KV rule's message; None where the cache was not judged."""
    if not per_token or kv_budget is None:
        return None
    if suggested:
        return f"--max-model-len {suggested} fits: its KV cache needs {_gib(suggested * per_token)} GiB of the {_gib(kv_budget)} GiB left."
    return "No context length fits with these weights on this GPU: add GPUs (--tensor-parallel-size), use --kv-cache-dtype fp8, or a quantized checkpoint."


def _context(launch: Mapping[str, Any], shape: Mapping[str, Any]) -> Any:
    """The context the engine will size its cache for: the launch's max_model_len, else the
    model's default (for longrope models the original length, not the longest allowed)."""
    return launch.get("max_model_len") or shape.get("default_context") or shape.get("derived_context")


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _kv_dtype(kv_cache_dtype: Any, dtype: str | None) -> tuple[str | None, int | None]:
    """The KV cache's dtype and bytes per element: ``auto`` follows the model, ``fp8*`` is 1 byte."""
    if kv_cache_dtype in (None, "auto"):
        return dtype, DTYPE_BYTES.get(dtype or "")
    if isinstance(kv_cache_dtype, str) and kv_cache_dtype.startswith("fp8"):
        return kv_cache_dtype, 1
    return kv_cache_dtype, DTYPE_BYTES.get(kv_cache_dtype) if isinstance(kv_cache_dtype, str) else None


def _smallest_memory(gpus: Mapping[str, Any], used: int) -> int | None:
    """Bytes of the smallest of the first ``used`` visible GPUs (all visible ones if fewer)."""
    devices = [d for d in (gpus.get("devices") or [])[:used] if isinstance(d.get("memory_total_mib"), int)]
    return min(d["memory_total_mib"] for d in devices) * 1024 * 1024 if devices else None


def _kv_judged(shape: Mapping[str, Any], launch: Mapping[str, Any]) -> tuple[bool, str | None]:
    if not shape.get("present"):
        return False, "no config.json to read the model's shape from"
    if shape.get("model_type") in HYBRID_MODEL_TYPES:
        return False, f"{shape.get('model_type')} mixes attention with state-space or linear layers"
    window, max_len = shape.get("sliding_window"), _context(launch, shape)
    if isinstance(window, int) and (not isinstance(max_len, int) or window < max_len):
        return False, f"sliding-window attention ({window} tokens) caches less than the whole context"
    if launch.get("max_model_len_auto_fit"):
        return False, "--max-model-len auto lowers the context to what fits at boot"
    if shape.get("attention") not in ("mha", "gqa", "mqa", "mla"):
        return False, "the attention layout is not known"
    return True, None


def _kv_bytes_per_token(shape: Mapping[str, Any], tensor: int, pipeline: int, kv_bytes: int | None) -> int | None:
    layers = shape.get("num_hidden_layers")
    if not isinstance(layers, int) or kv_bytes is None:
        return None
    layers_here = -(-layers // pipeline)
    if shape.get("attention") == "mla":
        mla = shape.get("mla") or {}
        latent = (mla.get("kv_lora_rank") or 0) + (mla.get("qk_rope_head_dim") or 0)
        return layers_here * latent * kv_bytes if latent else None
    kv_heads, head_dim = shape.get("num_key_value_heads"), shape.get("head_dim")
    if not isinstance(kv_heads, int) or not isinstance(head_dim, int):
        return None
    heads_here = max(1, kv_heads // tensor)
    return 2 * layers_here * heads_here * head_dim * kv_bytes


def _suggestion_budget(launch: Mapping[str, Any], memory: int | None, per_gpu: int | None, kv_budget: int | None) -> int | None:
    """The KV budget a suggestion is sized for: with ``--gpu-memory-utilization`` unset, the
    smallest default of the vLLM releases in use (`OLDEST_DEFAULT_UTILIZATION`), so the length
    suggested fits on those too (the verdict uses the newest, largest default)."""
    if launch.get("engine") != "vllm" or "gpu_memory_utilization" in (launch.get("explicit") or ()):
        return kv_budget
    if memory is None or per_gpu is None:
        return None
    utilization = min(launch.get("gpu_memory_utilization") or 1.0, OLDEST_DEFAULT_UTILIZATION)
    return int(memory * utilization) - per_gpu


def _suggestion(kv_budget: int | None, per_token: int | None, max_len: Any) -> int | None:
    """The largest multiple of `SUGGESTION_STEP` (at most ``max_len``) whose KV cache fits with
    `SUGGESTION_RESERVE_BYTES` and a tenth of the rest kept free; None when none does."""
    if kv_budget is None or not per_token:
        return None
    usable = (kv_budget - SUGGESTION_RESERVE_BYTES) * SUGGESTION_HEADROOM
    tokens = int(usable // per_token) // SUGGESTION_STEP * SUGGESTION_STEP
    if isinstance(max_len, int):
        tokens = min(tokens, max_len)
    return tokens if tokens >= SUGGESTION_STEP else None


def _gib(value: int | None) -> float | None:
    return round(value / GIB, 2) if isinstance(value, int) else None
