"""A model's shape from its config.json: layers, heads, context, RoPE scaling, quantisation.

``model_shape(config, tokenizer_config=None)`` reads the parsed ``config.json`` (and, where
the serving engine uses it, ``tokenizer_config.json``) and returns what a fit rule needs to
know about the model without loading it. For Llama-3.1-8B-Instruct::

    present: true
    model_type: llama
    architectures: [LlamaForCausalLM]
    num_hidden_layers: 32
    num_attention_heads: 32
    num_key_value_heads: 8          # = num_attention_heads when the config has none
    head_dim: 128                   # config's head_dim, else hidden_size // num_attention_heads
                                    # (MLA: qk_nope_head_dim + qk_rope_head_dim)
    hidden_size: 4096
    vocab_size: 128256
    intermediate_size: 14336
    torch_dtype: bfloat16           # bfloat16 | float16 | float32 | null
    max_position_embeddings: 131072
    rope_scaling: {type: llama3, factor: 8.0, original_max_position_embeddings: 8192}
    sliding_window: null
    attention: gqa                  # mha | gqa | mqa | mla (null when the heads are unknown)
    mla: null                       # {kv_lora_rank: 512, qk_rope_head_dim: 64} for DeepSeek-V2/V3
    quantization: null              # {method: awq, bits: 4}: method as vLLM names it
    auto_map: null                  # config.json's auto_map (remote code), as written
    text_config_used: false         # true: the layer facts come from a multimodal model's text_config
    derived_context: 131072         # the max_model_len vLLM derives when --max-model-len is not given
    default_context: 131072         # what vLLM runs with then (longrope: the original length)
    derived_context_from: "max_position_embeddings 131072; rope type llama3: factor 8 not applied"

**Where each value comes from.** ``model_type`` and ``architectures`` are the top level's. The
others come from the text part of a multimodal model (``text_config``, as transformers'
``get_text_config`` finds it; Llava, Gemma 3, Mllama…) and otherwise from the top level, under
the names transformers' attribute maps give them (``n_layer``, ``n_head``, ``n_embd``,
``d_model``…) and, for key/value heads, the names vLLM reads (``num_key_value_heads``,
``num_kv_heads``, ``n_head_kv``, ``multi_query_group_num``…; Falcon's ``multi_query``: 1). A
value missing from config.json is null: the defaults of transformers' config classes are not
known here. ``sliding_window`` is null where it is 0 or ``use_sliding_window`` is false (Qwen2),
as transformers and vLLM read it. ``rope_scaling`` is ``rope_parameters`` or ``rope_scaling``
(``rope_type`` or the older ``type``); a plain ``default`` RoPE without a factor is null.

**Attention.** ``mla`` when the config has ``kv_lora_rank`` (DeepSeek-V2/V3, Kimi K2…: the KV
cache holds one latent of kv_lora_rank + qk_rope_head_dim per token and layer), else ``mqa``
for one key/value head, ``gqa`` for fewer key/value heads than heads, ``mha`` for as many.

**Quantisation** is ``quantization_config`` (or ``compression_config``, or the text config's),
its ``quant_method`` lower-cased as vLLM names it (``compressed_tensors`` → ``compressed-tensors``;
an NVIDIA ModelOpt FP8 / NVFP4 checkpoint → ``modelopt`` / ``modelopt_fp4``), and the weight
bits (``bits``, ``load_in_4bit``/``load_in_8bit``, the weight ``num_bits`` of the
``config_groups`` of compressed-tensors or ModelOpt when they agree, 8 for the FP8 methods);
null when not stated or mixed.

**The derived context** is computed as vLLM 0.34.0's ``_get_and_verify_max_len`` does; see
`wfgy_rules.providers.model.vllm_context`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfgy_rules.providers.model.vllm_context import derive_context, rope_parameter_sets

# The sub-configs transformers' ``get_text_config`` looks for, in its order.
TEXT_CONFIG_KEYS = ("text_encoder", "decoder", "generator", "text_config")
# Field → the names it goes by (transformers' attribute maps; vLLM's CONFIG_FIELD_ALIASES for kv heads).
FIELD_NAMES = {
    "num_hidden_layers": ("num_hidden_layers", "n_layer", "n_layers", "num_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head", "n_heads", "num_heads"),
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_key_value_heads": ("n_head_kv", "num_kv_heads", "num_key_value_heads", "multi_query_group_num",
                            "num_attention_groups"),
    "vocab_size": ("vocab_size", "padded_vocab_size"),
    "intermediate_size": ("intermediate_size", "ffn_hidden_size", "n_inner"),
    "max_position_embeddings": ("max_position_embeddings", "n_positions"),
}
DTYPE_NAMES = {
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float16": "float16", "fp16": "float16", "half": "float16",
    "float32": "float32", "fp32": "float32", "float": "float32",
}
# vLLM's _normalize_quantization_config: a ModelOpt checkpoint's quant_algo → the method vLLM uses.
MODELOPT_METHODS = {
    "FP8": ("modelopt", 8), "FP8_PER_CHANNEL_PER_TOKEN": ("modelopt", 8), "FP8_PB_WO": ("modelopt", 8),
    "NVFP4": ("modelopt_fp4", 4), "MIXED_PRECISION": ("modelopt_mixed", None),
}
FP8_METHODS = frozenset({"fp8", "fbgemm_fp8", "ptpc_fp8"})


def model_shape(config: Mapping[str, Any] | None, tokenizer_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The shape facts of a parsed config.json (see the module docstring); None gives ``present: false``."""
    if config is None:
        return _absent()
    text, text_config_used = _text_config(config)
    heads = _int_field(text, "num_attention_heads")
    kv_heads = _kv_heads(text, heads)
    hidden = _int_field(text, "hidden_size")
    mla = _mla(text)
    context = derive_context(text, config, tokenizer_config)
    return {
        "present": True,
        "model_type": _string(config.get("model_type")),
        "architectures": [name for name in _list(config.get("architectures")) if isinstance(name, str)],
        "num_hidden_layers": _int_field(text, "num_hidden_layers"),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": _head_dim(text, hidden, heads),
        "hidden_size": hidden,
        "vocab_size": _int_field(text, "vocab_size"),
        "intermediate_size": _int_field(text, "intermediate_size"),
        "torch_dtype": _dtype(config, text),
        "max_position_embeddings": _int_field(text, "max_position_embeddings"),
        "rope_scaling": _rope_scaling(text),
        "sliding_window": _sliding_window(text),
        "attention": _attention(heads, kv_heads, mla),
        "mla": mla,
        "quantization": _quantization(config),
        "auto_map": dict(config["auto_map"]) if isinstance(config.get("auto_map"), Mapping) else None,
        "text_config_used": text_config_used,
        "derived_context": context.derived,
        "default_context": context.default,
        "derived_context_from": context.explanation,
    }


def _absent() -> dict[str, Any]:
    facts: dict[str, Any] = dict.fromkeys(
        ("model_type", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
         "hidden_size", "vocab_size", "intermediate_size", "torch_dtype", "max_position_embeddings",
         "rope_scaling", "sliding_window", "attention", "mla", "quantization", "auto_map",
         "derived_context", "default_context"))
    return {"present": False, **facts, "architectures": [], "text_config_used": False,
            "derived_context_from": "no config.json"}


def _text_config(config: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    for key in TEXT_CONFIG_KEYS:
        sub = config.get(key)
        if isinstance(sub, Mapping):
            return sub, True
    return config, False


def _int(value: Any) -> int | None:
    """A JSON integer (an integral float such as 4096.0 too); booleans and text are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int_field(text: Mapping[str, Any], field: str) -> int | None:
    for name in FIELD_NAMES[field]:
        value = _int(text.get(name))
        if value is not None:
            return value
    return None


def _kv_heads(text: Mapping[str, Any], heads: int | None) -> int | None:
    # vLLM's Falcon convertor: the old architecture's multi_query means a single key/value head.
    if text.get("multi_query") is True and not text.get("new_decoder_architecture"):
        return 1
    kv_heads = _int_field(text, "num_key_value_heads")
    return kv_heads if kv_heads is not None else heads


def _head_dim(text: Mapping[str, Any], hidden: int | None, heads: int | None) -> int | None:
    for name in ("head_dim", "hidden_size_per_head"):
        value = _int(text.get(name))
        if value is not None and value > 0:
            return value
    nope, rope = _int(text.get("qk_nope_head_dim")), _int(text.get("qk_rope_head_dim"))
    if nope and rope:  # MLA: a query/key head is its no-RoPE part and its RoPE part
        return nope + rope
    if hidden is None or not heads:
        return None
    return hidden // heads


def _dtype(config: Mapping[str, Any], text: Mapping[str, Any]) -> str | None:
    for source in (config, text):
        for key in ("dtype", "torch_dtype"):
            name = source.get(key)
            if isinstance(name, str):
                return DTYPE_NAMES.get(name.lower().removeprefix("torch."))
    return None


def _rope_scaling(text: Mapping[str, Any]) -> dict[str, Any] | None:
    sets = rope_parameter_sets(text)
    scaled = [params for params in sets if params.get("factor") is not None or _rope_type(params) != "default"]
    if not scaled:
        return None
    params = scaled[0]
    original = _int(text.get("original_max_position_embeddings"))
    if original is None:
        original = _int(params.get("original_max_position_embeddings"))
    return {"type": _rope_type(params), "factor": _number(params.get("factor")),
            "original_max_position_embeddings": original}


def _rope_type(params: Mapping[str, Any]) -> str:
    kind = params.get("rope_type", params.get("type"))
    return kind.lower() if isinstance(kind, str) else "default"


def _sliding_window(text: Mapping[str, Any]) -> int | None:
    if text.get("use_sliding_window") is False:
        return None
    window = _int(text.get("sliding_window"))
    return window if window else None


def _mla(text: Mapping[str, Any]) -> dict[str, int] | None:
    rank = _int(text.get("kv_lora_rank"))
    rope_dim = _int(text.get("qk_rope_head_dim"))
    if rank is None or rope_dim is None:
        return None
    return {"kv_lora_rank": rank, "qk_rope_head_dim": rope_dim}


def _attention(heads: int | None, kv_heads: int | None, mla: dict[str, int] | None) -> str | None:
    if mla is not None:
        return "mla"
    if not heads or not kv_heads:
        return None
    if kv_heads == 1 and heads > 1:
        return "mqa"
    return "gqa" if kv_heads < heads else "mha"


def _quantization(config: Mapping[str, Any]) -> dict[str, Any] | None:
    quant = config.get("quantization_config")
    if not isinstance(quant, Mapping):
        quant = config.get("compression_config")
    if not isinstance(quant, Mapping):
        text, used = _text_config(config)
        quant = text.get("quantization_config") if used else None
    if not isinstance(quant, Mapping):
        return None
    modelopt = _modelopt(quant)
    if modelopt is not None:
        method, bits = modelopt
    else:
        method = str(quant.get("quant_method") or "").lower().replace("compressed_tensors", "compressed-tensors")
        bits = _bits(method, quant)
    return {"method": method or None, "bits": bits}


def _modelopt(quant: Mapping[str, Any]) -> tuple[str, int | None] | None:
    producer = quant.get("producer")
    inner = quant.get("quantization")
    legacy = isinstance(inner, Mapping) and "modelopt_quant_config" in inner
    if not (isinstance(producer, Mapping) and producer.get("name") == "modelopt") and not legacy:
        return None
    algo = inner.get("quant_algo") if isinstance(inner, Mapping) else None
    return MODELOPT_METHODS.get(str(algo).upper()) if algo is not None else None


def _bits(method: str, quant: Mapping[str, Any]) -> int | None:
    for key in ("bits", "w_bit", "weight_bits", "wbits"):
        bits = _int(quant.get(key))
        if bits is not None:
            return bits
    if quant.get("load_in_4bit") is True:
        return 4
    if quant.get("load_in_8bit") is True:
        return 8
    groups = quant.get("config_groups")  # compressed-tensors, ModelOpt: the weights' bits when the groups agree
    if isinstance(groups, Mapping):
        found = {_int(group["weights"].get("num_bits")) for group in groups.values()
                 if isinstance(group, Mapping) and isinstance(group.get("weights"), Mapping)}
        return found.pop() if len(found) == 1 else None
    return 8 if method in FP8_METHODS else None
