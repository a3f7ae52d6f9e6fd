"""The context length vLLM derives from a config.json, as vLLM 0.34.0 derives it.

When ``--max-model-len`` is not given, vLLM serves the length it derives from the model's
config (``_get_and_verify_max_len`` in ``vllm/config/model.py``, with the length keys of
``derive_max_model_len_and_key`` in ``vllm/transformers_utils/model_arch_config_convertor.py``);
when it is given and larger, vLLM refuses to start ("User-specified max_model_len (32768) is
greater than the derived max_model_len (max_position_embeddings=8192 …)") unless
``VLLM_ALLOW_LONG_MAX_MODEL_LEN=1``. The steps, all on the text part of the config:

1. **The length keys.** The smallest of ``max_position_embeddings``, ``n_positions``,
   ``max_seq_len``, ``seq_length``, ``model_max_length``, ``max_target_positions``,
   ``max_sequence_length``, ``max_seq_length`` and ``seq_len``; then a ``model_max_length`` in
   config.json replaces it outright, larger or not (Command-R, Cohere 2).
2. **The tokenizer's** ``model_max_length`` caps it only for a pooling model (an embedding or
   classification architecture: ``…Model``, ``…ForSequenceClassification``… by vLLM's suffix
   table) whose config says ``position_embedding_type: absolute`` (BERT-style encoders).
   Generative models never read tokenizer_config.json for their length.
3. **No key at all:** vLLM falls back to the config class's default or 2048; neither is known
   from the file, so ``derived_context`` is null and the text says so.
4. **RoPE scaling** multiplies the length by ``factor``, except for the types whose
   ``max_position_embeddings`` is already the scaled length: ``llama3``, ``longrope`` (``su``),
   ``yarn``, ``deepseek_yarn``, ``deepseek_llama_scaling``; ``linear``, ``dynamic`` and any other
   type with a factor are multiplied. Gemma 3 (a ``gemma3`` model type) is never multiplied.
   vLLM 0.8.5 still multiplied ``yarn``, from ``original_max_position_embeddings`` (Qwen2.5 with
   YaRN factor 4 derived 131072 there, 32768 here), and started longrope models at the full length.
5. **Sliding window** does not shorten it (only ``--disable-sliding-window`` does).

``default_context`` is the length vLLM then runs with: the derived one, except for ``longrope``
models (Phi-3 128k), which start at their ``original_max_position_embeddings`` (4096) to keep
short prompts fast, while ``--max-model-len`` up to the derived length is accepted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

VLLM_VERSION = "0.34.0"
LENGTH_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "model_max_length",
               "max_target_positions", "max_sequence_length", "max_seq_length", "seq_len")
# RoPE types whose max_position_embeddings already is the scaled length (vLLM does not multiply).
UNSCALED_ROPE_TYPES = frozenset({"su", "longrope", "llama3", "yarn", "deepseek_yarn", "deepseek_llama_scaling"})
# vLLM's is_rope_parameters_nested: RoPE parameters keyed by these are one dict per layer type
# (transformers' ALLOWED_LAYER_TYPES, and DeepSeek-V4's "main" and "compress").
NESTED_ROPE_KEYS = frozenset({
    "full_attention", "sliding_attention", "chunked_attention", "window_attention", "indexed_attention",
    "compressed_sparse_attention", "heavily_compressed_attention", "minimax_m3_sparse", "conv", "moe", "hybrid",
    "hybrid_sliding", "reference_sliding_attention", "linear_attention", "sparse", "dense", "main", "compress",
})
# vLLM's patch_legacy_rope_type: old names of RoPE types.
LEGACY_ROPE_TYPES = {"su": "longrope", "mrope": "default"}
# vLLM's _SUFFIX_TO_DEFAULTS, first match wins: does an architecture name default to a pooling runner?
RUNNER_BY_SUFFIX = (
    ("ForCausalLM", False), ("ForConditionalGeneration", False), ("ChatModel", False), ("LMHeadModel", False),
    ("ForTextEncoding", True), ("EmbeddingModel", True), ("ForSequenceClassification", True),
    ("ForTokenClassification", True), ("ForAudioClassification", True), ("ForImageClassification", True),
    ("ForVideoClassification", True), ("ClassificationModel", True), ("ForRewardModeling", True),
    ("RewardModel", True), ("Model", True),
)


@dataclass(frozen=True)
class Context:
    derived: int | None
    default: int | None
    explanation: str


def rope_parameter_sets(text: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The RoPE parameter dicts of a text config: one, or one per layer type when nested (Gemma 3)."""
    params = text.get("rope_scaling")
    if not isinstance(params, Mapping) or not params:
        params = text.get("rope_parameters")
    if not isinstance(params, Mapping) or not params:
        return []
    if set(params) <= NESTED_ROPE_KEYS:
        return [value for value in params.values() if isinstance(value, Mapping) and value]
    return [params]


def derive_context(text: Mapping[str, Any], config: Mapping[str, Any],
                   tokenizer_config: Mapping[str, Any] | None) -> Context:
    """``derived_context``, ``default_context`` and how (see the module docstring)."""
    derived, steps = _length_keys(text)
    cap = _tokenizer_cap(config, tokenizer_config)
    if cap is not None and cap < derived:
        derived = cap
        steps.append(f"capped by tokenizer_config.json model_max_length {_show(cap)} (a pooling model "
                     "with absolute positions)")
    if math.isinf(derived):
        return Context(None, None, "config.json names none of the length keys: vLLM takes the config class's "
                                   "default, else 2048")
    sets = rope_parameter_sets(text)
    model_type = text.get("model_type") or config.get("model_type")
    factor, rope_step = _rope_factor(model_type, sets)
    if rope_step:
        steps.append(rope_step)
    derived *= factor
    result = int(derived)
    default = result
    if any(_rope_type(params) == "longrope" for params in sets):
        original = _whole(text.get("original_max_position_embeddings"))
        default = original if original is not None else result
        steps.append(f"longrope: vLLM starts at {_show(default)} unless --max-model-len is given")
    return Context(result, default, "; ".join(steps))


def _length_keys(text: Mapping[str, Any]) -> tuple[float, list[str]]:
    found = {key: value for key in LENGTH_KEYS if (value := _positive(text.get(key))) is not None}
    override = found.get("model_max_length")
    if override is not None:
        return override, [f"model_max_length {_show(override)} of config.json (it replaces the other length keys)"]
    if not found:
        return math.inf, []
    smallest = min(found, key=lambda key: (found[key], LENGTH_KEYS.index(key)))
    text_ = f"{smallest} {_show(found[smallest])}"
    if len(found) > 1:
        others = ", ".join(f"{key} {_show(value)}" for key, value in found.items() if key != smallest)
        text_ += f" (the smallest; also {others})"
    return found[smallest], [text_]


def _tokenizer_cap(config: Mapping[str, Any], tokenizer_config: Mapping[str, Any] | None) -> float | None:
    if not tokenizer_config or config.get("position_embedding_type") != "absolute":
        return None
    if not _pooling(config.get("architectures")):
        return None
    return _positive(tokenizer_config.get("model_max_length"))


def _pooling(architectures: Any) -> bool:
    for name in architectures if isinstance(architectures, list) else []:
        if not isinstance(name, str):
            continue
        for suffix, pooling in RUNNER_BY_SUFFIX:
            if name.endswith(suffix):
                return pooling
    return False


def _rope_factor(model_type: Any, sets: list[Mapping[str, Any]]) -> tuple[float, str]:
    if not sets:
        return 1.0, ""
    if isinstance(model_type, str) and "gemma3" in model_type:
        return 1.0, f"{model_type}: RoPE factor not applied (the length is already scaled)"
    factor: Any = 1.0
    skipped = []
    for params in sets:
        kind = _rope_type(params)
        if kind in UNSCALED_ROPE_TYPES:
            if params.get("factor") is not None:
                skipped.append(f"rope type {kind}: factor {_show(params['factor'])} not applied")
            continue
        factor = params.get("factor", factor)
    number = factor if isinstance(factor, (int, float)) and not isinstance(factor, bool) else 1.0
    if number != 1:
        return float(number), f"x rope factor {_show(number)} ({_rope_type(sets[-1])})"
    return 1.0, "; ".join(skipped)


def _rope_type(params: Mapping[str, Any]) -> str:
    kind = params.get("rope_type", params.get("type"))
    kind = kind.lower() if isinstance(kind, str) else "default"
    return LEGACY_ROPE_TYPES.get(kind, kind)


def _positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return value


def _whole(value: Any) -> int | None:
    number = _positive(value)
    return int(number) if number is not None else None


def _show(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() and abs(value) < 1e15 else str(value)
