"""model_shape over real config.json files: layers, heads, RoPE, quantisation and vLLM's derived context.

Every expected value below was written by hand from the config file (tests/corpus/serving/
model_configs/README.md names each file's origin); the derived contexts were checked against
vLLM 0.34.0's own ``_get_and_verify_max_len`` and ``derive_max_model_len_and_key`` run over
the transformers config of each file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wfgy_rules.providers.model.shape import model_shape

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "serving" / "model_configs"
BERT_MINILM = Path(__file__).resolve().parents[1] / "corpus" / "tokenizers" / "bert-minilm"

LLAMA3_ROPE = {"type": "llama3", "factor": 8.0, "original_max_position_embeddings": 8192}
DEEPSEEK_V3_AUTO_MAP = {
    "AutoConfig": "configuration_deepseek.DeepseekV3Config",
    "AutoModel": "modeling_deepseek.DeepseekV3Model",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM",
}
KIMI_K25_AUTO_MAP = {
    "AutoConfig": "configuration_kimi_k25.KimiK25Config",
    "AutoModel": "modeling_kimi_k25.KimiK25ForConditionalGeneration",
    "AutoModelForCausalLM": "modeling_kimi_k25.KimiK25ForConditionalGeneration",
}


def shape(**expected):
    """The full expected shape of a corpus config: defaults for a plain dense decoder, then ``expected``."""
    return {
        "present": True, "rope_scaling": None, "sliding_window": None, "attention": "gqa", "mla": None,
        "quantization": None, "auto_map": None, "text_config_used": False, "torch_dtype": "bfloat16",
        **expected,
    }


# What Llama 3.1 8B and 70B share: the vocabulary and the 128k context of llama3 RoPE.
LLAMA_3_1 = {
    "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 128256,
    "max_position_embeddings": 131072, "rope_scaling": LLAMA3_ROPE, "derived_context": 131072,
    "default_context": 131072,
    "derived_context_from": "max_position_embeddings 131072; rope type llama3: factor 8 not applied",
}

EXPECTED = {
    "llama-3-8b": shape(
        model_type="llama", architectures=["LlamaForCausalLM"], num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128, hidden_size=4096, vocab_size=128256,
        intermediate_size=14336, max_position_embeddings=8192, derived_context=8192, default_context=8192,
        derived_context_from="max_position_embeddings 8192"),
    "llama-3.1-8b": shape(
        **LLAMA_3_1, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
        hidden_size=4096, intermediate_size=14336),
    "llama-3.1-70b": shape(
        **LLAMA_3_1, num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8, head_dim=128,
        hidden_size=8192, intermediate_size=28672),
    "qwen2.5-7b-instruct": shape(
        model_type="qwen2", architectures=["Qwen2ForCausalLM"], num_hidden_layers=28,
        num_attention_heads=28, num_key_value_heads=4, head_dim=128, hidden_size=3584, vocab_size=152064,
        intermediate_size=18944, max_position_embeddings=32768, derived_context=32768, default_context=32768,
        derived_context_from="max_position_embeddings 32768"),  # sliding_window 131072 is off: use_sliding_window false
    "mixtral-8x7b": shape(
        model_type="mixtral", architectures=["MixtralForCausalLM"], num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128, hidden_size=4096, vocab_size=32000,
        intermediate_size=14336, max_position_embeddings=32768, derived_context=32768, default_context=32768,
        derived_context_from="max_position_embeddings 32768"),
    "qwen3-32b-fp8": shape(
        model_type="qwen3", architectures=["Qwen3ForCausalLM"], num_hidden_layers=64,
        num_attention_heads=64, num_key_value_heads=8, head_dim=128, hidden_size=5120, vocab_size=151936,
        intermediate_size=25600, max_position_embeddings=40960, quantization={"method": "fp8", "bits": 8},
        derived_context=40960, default_context=40960, derived_context_from="max_position_embeddings 40960"),
    "deepseek-v3": shape(
        model_type="deepseek_v3", architectures=["DeepseekV3ForCausalLM"], num_hidden_layers=61,
        num_attention_heads=128, num_key_value_heads=128, head_dim=192, hidden_size=7168, vocab_size=129280,
        intermediate_size=18432, max_position_embeddings=163840,
        rope_scaling={"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096},
        attention="mla", mla={"kv_lora_rank": 512, "qk_rope_head_dim": 64},
        quantization={"method": "fp8", "bits": 8}, auto_map=DEEPSEEK_V3_AUTO_MAP,
        derived_context=163840, default_context=163840,
        derived_context_from="max_position_embeddings 163840; rope type yarn: factor 40 not applied"),
    "kimi-k2.5": shape(
        model_type="kimi_k25", architectures=["KimiK25ForConditionalGeneration"],
        num_hidden_layers=61, num_attention_heads=64, num_key_value_heads=64, head_dim=192, hidden_size=7168,
        vocab_size=163840, intermediate_size=18432, max_position_embeddings=262144,
        rope_scaling={"type": "yarn", "factor": 64.0, "original_max_position_embeddings": 4096},
        attention="mla", mla={"kv_lora_rank": 512, "qk_rope_head_dim": 64},
        quantization={"method": "compressed-tensors", "bits": 4},  # int4 groups, in text_config
        auto_map=KIMI_K25_AUTO_MAP, text_config_used=True, derived_context=262144, default_context=262144,
        derived_context_from="max_position_embeddings 262144; rope type yarn: factor 64 not applied"),
    "llama-3.2-90b-vision-instruct": shape(
        model_type="mllama", architectures=["MllamaForConditionalGeneration"],
        num_hidden_layers=100, num_attention_heads=64, num_key_value_heads=8, head_dim=128, hidden_size=8192,
        vocab_size=128256, intermediate_size=28672, max_position_embeddings=131072, rope_scaling=LLAMA3_ROPE,
        text_config_used=True, derived_context=131072, default_context=131072,
        derived_context_from="max_position_embeddings 131072; rope type llama3: factor 8 not applied"),
    "gemma-4-26b-a4b": shape(
        model_type="gemma4", architectures=["Gemma4ForConditionalGeneration"],
        num_hidden_layers=30, num_attention_heads=16, num_key_value_heads=8, head_dim=256, hidden_size=2816,
        vocab_size=262144, intermediate_size=2112, max_position_embeddings=262144,
        rope_scaling={"type": "proportional", "factor": None, "original_max_position_embeddings": None},
        sliding_window=1024, text_config_used=True, derived_context=262144, default_context=262144,
        derived_context_from="max_position_embeddings 262144"),  # the sliding window does not shorten it
}


def corpus_config(name: str) -> dict:
    return json.loads((CORPUS / name / "config.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_configs_have_their_published_shape(name):
    assert model_shape(corpus_config(name)) == EXPECTED[name]


def test_every_corpus_config_is_covered():
    assert sorted(path.name for path in CORPUS.iterdir() if path.is_dir()) == sorted(EXPECTED)


# RoPE types, each on a real config with one change (as users and model cards add rope_scaling).
@pytest.mark.parametrize(("base", "rope_scaling", "derived", "default", "explained"), [
    # Qwen2.5's model card: add YaRN factor 4 for 128k; vLLM 0.34 takes max_position_embeddings as already scaled
    ("qwen2.5-7b-instruct", {"factor": 4.0, "original_max_position_embeddings": 32768, "type": "yarn"},
     32768, 32768, "max_position_embeddings 32768; rope type yarn: factor 4 not applied"),
    ("llama-3-8b", {"type": "linear", "factor": 2.0}, 16384, 16384,
     "max_position_embeddings 8192; x rope factor 2 (linear)"),
    ("llama-3-8b", {"rope_type": "dynamic", "factor": 2.0}, 16384, 16384,
     "max_position_embeddings 8192; x rope factor 2 (dynamic)"),
    ("llama-3-8b", {"rope_type": "default"}, 8192, 8192, "max_position_embeddings 8192"),
    ("llama-3-8b", {"rope_type": "linear", "factor": None}, 8192, 8192, "max_position_embeddings 8192"),
])
def test_rope_factor_applies_as_vllm_applies_it(base, rope_scaling, derived, default, explained):
    facts = model_shape({**corpus_config(base), "rope_scaling": rope_scaling})
    assert (facts["derived_context"], facts["default_context"], facts["derived_context_from"]) == \
        (derived, default, explained)


PHI3_MINI_128K = {  # microsoft/Phi-3-mini-128k-instruct's config.json, its factor lists shortened
    "architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": 3072, "intermediate_size": 8192,
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32, "vocab_size": 32064,
    "max_position_embeddings": 131072, "original_max_position_embeddings": 4096, "sliding_window": 262144,
    "rope_scaling": {"type": "su", "long_factor": [1.0, 1.01], "short_factor": [1.0, 1.0]},
    "torch_dtype": "bfloat16",
}


@pytest.mark.parametrize("kind", ["su", "longrope"])
def test_longrope_accepts_the_long_context_but_starts_at_the_original(kind):
    facts = model_shape({**PHI3_MINI_128K, "rope_scaling": {**PHI3_MINI_128K["rope_scaling"], "type": kind}})
    assert facts["rope_scaling"] == {"type": kind, "factor": None, "original_max_position_embeddings": 4096}
    assert (facts["derived_context"], facts["default_context"]) == (131072, 4096)
    assert facts["derived_context_from"] == \
        "max_position_embeddings 131072; longrope: vLLM starts at 4096 unless --max-model-len is given"
    assert (facts["attention"], facts["sliding_window"]) == ("mha", 262144)


def test_gemma3_rope_factor_is_never_applied():
    gemma3 = {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "hidden_size": 2560,
              "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "num_hidden_layers": 34,
              "max_position_embeddings": 131072, "rope_scaling": {"rope_type": "linear", "factor": 8.0},
              "sliding_window": 1024}
    facts = model_shape(gemma3)
    assert (facts["derived_context"], facts["head_dim"], facts["sliding_window"]) == (131072, 256, 1024)
    assert facts["derived_context_from"] == \
        "max_position_embeddings 131072; gemma3_text: RoPE factor not applied (the length is already scaled)"


def test_config_model_max_length_replaces_the_other_keys_even_when_larger():
    # Command-R: max_position_embeddings 8192, model_max_length 131072 -> vLLM serves 131072
    facts = model_shape({**corpus_config("llama-3-8b"), "model_max_length": 131072})
    assert facts["derived_context"] == 131072
    assert facts["derived_context_from"] == "model_max_length 131072 of config.json (it replaces the other length keys)"


def test_the_smallest_length_key_wins_and_names_the_others():
    facts = model_shape({**corpus_config("llama-3-8b"), "seq_length": 4096})
    assert facts["derived_context"] == 4096
    assert facts["derived_context_from"] == "seq_length 4096 (the smallest; also max_position_embeddings 8192)"


def test_no_length_key_leaves_the_context_unknown():
    config = {key: value for key, value in corpus_config("llama-3-8b").items() if key != "max_position_embeddings"}
    facts = model_shape(config)
    assert (facts["derived_context"], facts["default_context"], facts["max_position_embeddings"]) == (None, None, None)
    assert facts["derived_context_from"] == \
        "config.json names none of the length keys: vLLM takes the config class's default, else 2048"


def test_gpt2_names_are_read():
    gpt2 = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": 768, "n_head": 12, "n_layer": 12,
            "n_positions": 1024, "vocab_size": 50257}
    facts = model_shape(gpt2)
    assert (facts["hidden_size"], facts["num_attention_heads"], facts["num_hidden_layers"], facts["head_dim"],
            facts["num_key_value_heads"], facts["attention"], facts["max_position_embeddings"]) == \
        (768, 12, 12, 64, 12, "mha", 1024)
    assert facts["derived_context_from"] == "n_positions 1024"


def test_falcon_multi_query_is_one_kv_head():
    falcon_7b = {"architectures": ["FalconForCausalLM"], "model_type": "falcon", "hidden_size": 4544,
                 "num_attention_heads": 71, "num_hidden_layers": 32, "multi_query": True,
                 "new_decoder_architecture": False}
    facts = model_shape(falcon_7b)
    assert (facts["num_key_value_heads"], facts["head_dim"], facts["attention"]) == (1, 64, "mqa")


class TestTokenizerModelMaxLength:
    """Only a pooling model with absolute positions is capped by tokenizer_config.json's model_max_length."""

    def test_caps_a_bert_embedding_model(self):
        config = json.loads((BERT_MINILM / "config.json").read_text(encoding="utf-8"))  # BertModel, absolute, 512
        facts = model_shape(config, {"model_max_length": 256})
        assert facts["derived_context"] == 256
        assert facts["derived_context_from"] == ("max_position_embeddings 512; capped by tokenizer_config.json "
                                                 "model_max_length 256 (a pooling model with absolute positions)")

    def test_real_bert_tokenizer_config_does_not_lower_it(self):
        config = json.loads((BERT_MINILM / "config.json").read_text(encoding="utf-8"))
        tokenizer_config = json.loads((BERT_MINILM / "tokenizer_config.json").read_text(encoding="utf-8"))
        assert model_shape(config, tokenizer_config)["derived_context"] == 512

    def test_never_caps_a_generative_model(self):
        assert model_shape(corpus_config("llama-3-8b"), {"model_max_length": 2048})["derived_context"] == 8192


@pytest.mark.parametrize(("quantization_config", "expected"), [
    # TheBloke / AutoAWQ's form
    ({"bits": 4, "group_size": 128, "quant_method": "awq", "version": "gemm", "zero_point": True},
     {"method": "awq", "bits": 4}),
    ({"bits": 4, "group_size": 128, "desc_act": False, "quant_method": "gptq", "sym": True},
     {"method": "gptq", "bits": 4}),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
     {"method": "bitsandbytes", "bits": 4}),
    ({"quant_method": "bitsandbytes", "load_in_8bit": True}, {"method": "bitsandbytes", "bits": 8}),
    ({"quant_method": "compressed_tensors", "config_groups": {"group_0": {"weights": {"num_bits": 8}}}},
     {"method": "compressed-tensors", "bits": 8}),
    ({"quant_method": "compressed-tensors", "config_groups": {"a": {"weights": {"num_bits": 8}},
                                                              "b": {"weights": {"num_bits": 4}}}},
     {"method": "compressed-tensors", "bits": None}),
    ({"producer": {"name": "modelopt", "version": "0.29"}, "quantization": {"quant_algo": "NVFP4"}},
     {"method": "modelopt_fp4", "bits": 4}),
    ({"producer": {"name": "modelopt"}, "quantization": {"quant_algo": "FP8"}}, {"method": "modelopt", "bits": 8}),
    ({"quant_method": "FP8"}, {"method": "fp8", "bits": 8}),
    ({"quant_method": "mxfp4"}, {"method": "mxfp4", "bits": None}),
])
def test_quantization_method_as_vllm_names_it(quantization_config, expected):
    config = {**corpus_config("qwen2.5-7b-instruct"), "quantization_config": quantization_config}
    assert model_shape(config)["quantization"] == expected


def test_compression_config_is_read_when_there_is_no_quantization_config():
    config = {**corpus_config("llama-3-8b"), "compression_config": {"quant_method": "compressed-tensors",
                                                                    "config_groups": {"g": {"weights": {"num_bits": 4}}}}}
    assert model_shape(config)["quantization"] == {"method": "compressed-tensors", "bits": 4}


@pytest.mark.parametrize(("dtype_key", "value", "expected"), [
    ("torch_dtype", "float16", "float16"), ("dtype", "bfloat16", "bfloat16"), ("torch_dtype", "float32", "float32"),
    ("torch_dtype", "torch.float16", "float16"), ("torch_dtype", "float8_e4m3fn", None), ("torch_dtype", None, None),
])
def test_dtype_is_normalised(dtype_key, value, expected):
    config = {key: item for key, item in corpus_config("llama-3-8b").items() if key != "torch_dtype"}
    assert model_shape({**config, dtype_key: value})["torch_dtype"] == expected


def test_values_of_the_wrong_type_are_not_numbers():
    config = {**corpus_config("llama-3-8b"), "num_attention_heads": "32", "num_key_value_heads": True,
              "max_position_embeddings": "8192"}
    facts = model_shape(config)
    assert (facts["num_attention_heads"], facts["num_key_value_heads"], facts["head_dim"], facts["attention"]) == \
        (None, None, 128, None)
    assert facts["derived_context"] is None


def test_no_config():
    facts = model_shape(None)
    assert facts["present"] is False
    assert facts["architectures"] == [] and facts["text_config_used"] is False
    assert {key for key, value in facts.items() if value is not None} == \
        {"present", "architectures", "text_config_used", "derived_context_from"}
    assert set(facts) == set(model_shape(corpus_config("llama-3-8b")))
