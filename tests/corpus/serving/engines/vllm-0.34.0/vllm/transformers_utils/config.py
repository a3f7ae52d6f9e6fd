# SPDX-License-Identifier: Apache-2.0
# SPDX-FileCopyrightText: Copyright contributors to the vLLM project

import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from functools import cache, partial, wraps
from pathlib import Path
from typing import Any, Literal, TypeAlias

import huggingface_hub
import torch
import transformers
import transformers.configuration_utils as hf_configuration_utils
from huggingface_hub import constants
from huggingface_hub.utils import HFValidationError, validate_repo_id
from safetensors.torch import _TYPES as _SAFETENSORS_TO_TORCH_DTYPE
from transformers import GenerationConfig, PreTrainedConfig
from transformers.configuration_utils import ALLOWED_LAYER_TYPES
from transformers.models.auto.image_processing_auto import get_image_processor_config
from transformers.models.auto.modeling_auto import (
    MODEL_MAPPING_NAMES,
)
from transformers.models.auto.tokenization_auto import get_tokenizer_config
from transformers.utils import CONFIG_NAME as HF_CONFIG_NAME

from vllm import envs
from vllm.logger import init_logger
from vllm.transformers_utils.repo_utils import is_mistral_model_repo
from vllm.transformers_utils.utils import (
    parse_safetensors_file_metadata,
    without_trust_remote_code,
)
from vllm.utils.torch_utils import common_broadcastable_dtype

from .config_parser_base import ConfigParserBase
from .repo_utils import (
    file_or_path_exists,
    get_hf_file_to_dict,
    hf_api,
    list_repo_files,
    try_get_local_file,
    with_retry,
)

if envs.VLLM_USE_MODELSCOPE:
    from modelscope import AutoConfig
else:
    from transformers import AutoConfig

MISTRAL_CONFIG_NAME = "params.json"

logger = init_logger(__name__)

CONFIG_FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "total_num_kv_heads": (
        "n_head_kv",  # Falcon
        "num_kv_heads",
        "num_key_value_heads",  # LLaMA-2
        "multi_query_group_num",  # ChatGLM
        "num_attention_groups",  # Step3p5
    ),
    "num_experts": (
        "num_experts",  # Jamba
        "moe_num_experts",  # Dbrx
        "n_routed_experts",  # DeepSeek
        "num_local_experts",  # Mixtral
    ),
    "num_experts_per_token": (
        "num_experts_per_tok",
        "num_experts_per_token",
        "top_k_experts",
        "moe_topk",  # Hunyuan
        "moe_top_k",
        "top_k",
    ),
    "moe_intermediate_size": (
        "moe_intermediate_size",
        "intermediate_size",
    ),
    "num_shared_experts": (
        "n_shared_experts",  # DeepSeek, Docs, GLM
        "moe_num_shared_experts",  # Aria, Ernie
    ),
}
"""HF config fields that models spell differently, keyed by the name vLLM uses.

`ModelArchConfigConvertorBase` reads a scalar from these; a caller that needs the
raw value (a per-layer `list`, say) passes the aliases to `getattr_iter` itself."""

_ST_TRANSFORMER_MODULE_TYPES = {
    "sentence_transformers.models.Transformer",
    "sentence_transformers.base.modules.transformer.Transformer",
}
_ST_POOLING_MODULE_TYPES = {
    "sentence_transformers.models.Pooling",
    "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
}
_ST_NORMALIZE_MODULE_TYPES = {
    "sentence_transformers.models.Normalize",
    "sentence_transformers.base.modules.normalize.Normalize",
    "sentence_transformers.sentence_transformer.modules.normalize.Normalize",
}
_DENSE_MODULE_TYPES = {
    "sentence_transformers.models.Dense",
    "sentence_transformers.base.modules.dense.Dense",
    "pylate.models.Dense.Dense",
}


class LazyConfigDict(dict):
    def __getitem__(self, key):
        if isinstance(value := super().__getitem__(key), type):
            return value

        import vllm.transformers_utils.configs as configs

        return getattr(configs, value)


_CONFIG_REGISTRY: dict[str, type[PreTrainedConfig]] = LazyConfigDict(
    alpamayo2_super="Alpamayo2SuperConfig",
    bagel="BagelConfig",
    bailing_moe_v3_vl="BailingMoeV3VLConfig",
    beam="BeamConfig",
    chatglm="ChatGLMConfig",
    ultravbert="ColUltraVBertConfig",
    colqwen3="ColQwen3Config",
    ops_colqwen3="OpsColQwen3Config",
    qwen3_vl_nemotron_embed="Qwen3VLNemotronEmbedConfig",
    deepseek_vl_v2="DeepseekVLV2Config",
    deepseek_v32="DeepseekV3Config",
    dory="DoryConfig",
    dots3_note="Dots3NoteConfig",
    k3_dspark="K3DSparkConfig",
    funaudiochat="FunAudioChatConfig",
    hy_v4="HYV4Config",
    hyperclovax="HyperCLOVAXConfig",  # Upstream class, hub remote code is broken
    isaac="IsaacConfig",
    kimi_k2="DeepseekV3Config",  # Kimi K2 uses same architecture as DeepSeek V3
    kimi_linear="KimiLinearConfig",
    kimi_vl="KimiVLConfig",
    kimi_k25="Kimi_K25Config",  # Upstream class, hub remote code uses old schema
    muse_spark_dspark="MuseSparkDSparkConfig",
    muse_spark_text="MuseSparkTextConfig",
    muse_spark_vision="MuseSparkVisionConfig",
    muse_spark_audio="MuseSparkAudioConfig",
    muse_spark="MuseSparkConfig",
    kimi_k3="KimiK3Config",
    kimi_k31="KimiK3Config",
    lfm3="Lfm3Config",
    lfm3_audio="Lfm3AudioConfig",
    lfm3_vl="Lfm3VlConfig",
    RefinedWeb="RWConfig",  # For tiiuae/falcon-40b(-instruct)
    RefinedWebModel="RWConfig",  # For tiiuae/falcon-7b(-instruct)
    midashenglm="MiDashengLMConfig",
    minimax_m3_vl="MiniMaxM3VLConfig",  # Upstream class, hub code uses old schema
    minimax_m3_mtp="MiniMaxM3MTPConfig",
    ming_v3_asr="MingV3ASRConfig",
    moondream3="Moondream3Config",
    nemo_speechlm="Nemotron3_5TranscribeConfig",
    eagle="EAGLEConfig",
    speculators="SpeculatorsConfig",
    openvla="OpenVLAConfig",
    ovis="OvisConfig",
    ultravox="UltravoxConfig",
    step3_vl="Step3VLConfig",
    step3_text="Step3TextConfig",
    step3p5="Step3p7TextConfig",  # Upstream class, hub remote code fails validation
    step5="Step5Config",
    step5_vl="Step5VLConfig",
    ricursive="RicursiveConfig",
    **{"unlimited-ocr": "UnlimitedOCRConfig"},
    unlimited_ocr="UnlimitedOCRConfig",
    **{"deepseek_v41": "DeepseekV41Config"},
    flint="FlintConfig",
    inkling_mm_model="InklingMMConfig",
    inkling_model="InklingModelConfig",
)

_SPECULATIVE_DECODING_CONFIGS: set[str] = {"eagle", "speculators"}

# Checkpoints whose config.json has no model_type, only remote code in auto_map
_ARCHITECTURE_TO_MODEL_TYPE: dict[str, str] = {
    "LongcatFlashForCausalLM": "longcat_flash",
    "LongcatFlashNgramForCausalLM": "longcat_flash",
}

_PATCH_HF_VALIDATE_ROPE: set[str] = {"sarvam_mla"}

# Model types whose checkpoints carry shared RoPE parameters alongside the
# per-layer-type dicts. Since transformers 5.17, `validate_rope` treats every
# top-level value of such a dict as a layer's parameters and raises on the
# shared ones. `laguna` gets them injected by `convert_rope_params_to_dict`;
# `gemma4_text` ships them in the checkpoint itself.
_PATCH_HF_NESTED_ROPE_VALIDATION: set[str] = {"laguna", "gemma4_text"}

_CONFIG_ATTRS_MAPPING: dict[str, str] = {
    "llm_config": "text_config",
}

_AUTO_CONFIG_KWARGS_OVERRIDES: dict[str, dict[str, Any]] = {
    "internvl_chat": {"has_no_defaults_at_init": True},
    "Llama_Nemotron_Nano_VL": {"attn_implementation": "eager"},
    "NVLM_D": {"has_no_defaults_at_init": True},
}


def _register_config_class(
    model_type: str, config_class: type[PreTrainedConfig]
) -> None:
    config_class.model_type = model_type
    AutoConfig.register(model_type, config_class, exist_ok=True)


def _maybe_register_hf_config(config: PreTrainedConfig | None) -> None:
    if config is None:
        return

    model_type = getattr(config, "model_type", None)
    if isinstance(model_type, str) and model_type in _CONFIG_REGISTRY:
        _register_config_class(model_type, _CONFIG_REGISTRY[model_type])


def is_rope_parameters_nested(rope_parameters: dict[str, Any]) -> bool:
    """Check if rope_parameters is nested by layer types."""
    # Cannot be nested if rope_parameters is empty
    if not rope_parameters:
        return False
    # DeepSeek-V4 nests by rope type ("main", "compress") instead
    return set(rope_parameters.keys()).issubset(
        {*ALLOWED_LAYER_TYPES, "main", "compress"}
    )


@contextmanager
def _mistral_patch_hf_hub_constants() -> Iterator[None]:
    hf_safetensors_single_file = constants.SAFETENSORS_SINGLE_FILE
    hf_safetensors_index_file = constants.SAFETENSORS_INDEX_FILE
    constants.SAFETENSORS_SINGLE_FILE = "consolidated.safetensors"
    constants.SAFETENSORS_INDEX_FILE = "consolidated.safetensors.index.json"
    try:
        yield
    finally:
        constants.SAFETENSORS_SINGLE_FILE = hf_safetensors_single_file
        constants.SAFETENSORS_INDEX_FILE = hf_safetensors_index_file


def _install_hf_config_validator(
    name: str, validator: Callable, supersedes: Callable
) -> None:
    """Replace a ``PreTrainedConfig`` validator on every ``@strict`` snapshot.

    ``@strict`` snapshots each ``validate_*`` method into ``__class_validators__``
    at class creation and automatic post-``__init__`` validation dispatches off
    that frozen list, so assigning the class attribute alone only affects
    explicit ``config.validate_*()`` calls. Every ``@strict``-decorated config
    class owns a snapshot, so rewrite them all, matching ``supersedes`` by
    identity to leave a genuine per-model override in place.
    """
    setattr(PreTrainedConfig, name, validator)

    seen: set[int] = set()
    stack = [PreTrainedConfig]
    while stack:
        cls = stack.pop()
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        validators = cls.__dict__.get("__class_validators__")
        if isinstance(validators, list) and any(v is supersedes for v in validators):
            cls.__class_validators__ = [
                validator if v is supersedes else v for v in validators
            ]
        stack.extend(cls.__subclasses__())


def _patch_hf_transformers_validate_rope():
    """Transformers v5 moved the ignore_keys option from the method signature of
    validate_rope and replaced it with the ignore_keys_at_rope_validation parameter
    in the PreTrainedConfig class. This is a patch to make older versions of
    validate_rope() with the ignore_keys parameter work with newer versions of
    hf transformers (from v5 onwards)
    """
    if hasattr(PreTrainedConfig.validate_rope, "__vllm_patched__"):
        return

    _original_validate_rope = PreTrainedConfig.validate_rope

    @wraps(_original_validate_rope)
    def patched_validate_rope(self, *args, **kwargs):
        ignore_keys_param = kwargs.pop("ignore_keys", None)
        original_ignore_keys = self.ignore_keys_at_rope_validation
        if ignore_keys_param is not None:
            logger.warning(
                "validate_rope() was called with the legacy 'ignore_keys' "
                "argument; use 'ignore_keys_at_rope_validation' instead"
            )
        self.ignore_keys_at_rope_validation = original_ignore_keys or ignore_keys_param
        result = _original_validate_rope(self, *args, **kwargs)
        return result

    patched_validate_rope.__vllm_patched__ = True  # type: ignore[attr-defined]
    _install_hf_config_validator(
        "validate_rope", patched_validate_rope, _original_validate_rope
    )


def _patch_hf_transformers_nested_rope_validation() -> None:
    """Drop shared entries sitting alongside a nested ``rope_parameters`` dict.

    Transformers validates a dict with any layer-type key by iterating all of
    its values, so a shared entry next to the per-layer dicts raises an
    ``AttributeError``. The per-layer dicts already carry their own defaults by
    the time validation runs, so the shared entries can be dropped.
    """
    if hasattr(PreTrainedConfig.validate_rope, "__vllm_nested_rope_patched__"):
        return

    _original_validate_rope = PreTrainedConfig.validate_rope

    @wraps(_original_validate_rope)
    def patched_validate_rope(self, *args, **kwargs):
        rope_parameters = getattr(self, "rope_parameters", None)
        if isinstance(rope_parameters, dict):
            layer_types = set(rope_parameters) & set(
                hf_configuration_utils.ALLOWED_LAYER_TYPES
            )
            if layer_types and (shared_keys := set(rope_parameters) - layer_types):
                for key in shared_keys:
                    del rope_parameters[key]
                logger.warning(
                    "Dropping %s from rope_parameters; entries shared across "
                    "layer types are not supported",
                    sorted(shared_keys),
                )
        return _original_validate_rope(self, *args, **kwargs)

    patched_validate_rope.__vllm_nested_rope_patched__ = True  # type: ignore[attr-defined]
    _install_hf_config_validator(
        "validate_rope", patched_validate_rope, _original_validate_rope
    )


class HFConfigParser(ConfigParserBase):
    def parse(
        self,
        model: str | Path,
        trust_remote_code: bool,
        revision: str | None = None,
        code_revision: str | None = None,
        **kwargs,
    ) -> tuple[dict, PreTrainedConfig]:
        kwargs["local_files_only"] = huggingface_hub.constants.HF_HUB_OFFLINE
        trust_remote_code |= kwargs.get("trust_remote_code", False)
        kwargs = without_trust_remote_code(kwargs)
        config_dict, _ = PreTrainedConfig.get_config_dict(
            model,
            revision=revision,
            code_revision=code_revision,
            **kwargs,
        )
        # Use custom model class if it's in our registry
        model_type = config_dict.get("model_type")
        if model_type is None:
            model_type = (
                "speculators"
                if config_dict.get("speculators_config") is not None
                else model_type
            )
        if model_type is None and (architectures := config_dict.get("architectures")):
            model_type = _ARCHITECTURE_TO_MODEL_TYPE.get(architectures[0])
        # Allow hf_overrides to override model_type before checking _CONFIG_REGISTRY
        if (hf_overrides := kwargs.pop("hf_overrides", None)) is not None:
            if isinstance(hf_overrides, dict) and "model_type" in hf_overrides:
                model_type = hf_overrides["model_type"]
            elif callable(hf_overrides):
                # If hf_overrides doesn't modify model_type, it will be passed straight
                # through and remain unchanged by this elif block
                dummy_model_type = f"dummy_{model_type}"
                dummy_kwargs = dict(architectures=[""], model_type=dummy_model_type)
                dummy_config = PreTrainedConfig(**dummy_kwargs)
                dummy_model_type = hf_overrides(dummy_config).model_type
                model_type = dummy_model_type.removeprefix("dummy_")

        if model_type in _PATCH_HF_VALIDATE_ROPE:
            _patch_hf_transformers_validate_rope()

        if model_type in _PATCH_HF_NESTED_ROPE_VALIDATION:
            _patch_hf_transformers_nested_rope_validation()

        if model_type == "vlm":
            # HyperCLOVAX remote code registers this alias in a bare
            # `try/except` that fails silently since transformers 5.18
            from transformers import CONFIG_MAPPING, Qwen2_5_VLVisionConfig

            CONFIG_MAPPING.register(
                "qwen2_5_vl_visual", Qwen2_5_VLVisionConfig, exist_ok=True
            )

        rope_parameters = config_dict.get("rope_parameters") or {}
        if model_type == "gemma4_text" and "full_attention" in rope_parameters:
            from transformers import Gemma4TextConfig

            # Published DSpark configs mix redundant scalar entries with per-layer
            # RoPE dicts. Remove them before Transformers' constructor validates.
            config_dict["rope_parameters"] = {
                k: v
                for k, v in rope_parameters.items()
                if k not in ("rope_type", "rope_theta")
            }
            kwargs.setdefault("name_or_path", str(model))
            config = Gemma4TextConfig.from_dict(config_dict, **kwargs)
        elif model_type == "qwen3_asr" and "thinker_config" in config_dict:
            from transformers import Qwen3ASRConfig

            # Original checkpoints nest their fields in `thinker_config`
            thinker_config = config_dict.pop("thinker_config")
            audio_config = thinker_config["audio_config"]
            audio_config["model_type"] = "qwen3_asr_encoder"
            config_dict = {**thinker_config, **config_dict}
            if thinker_config["model_type"] == "qwen3_forced_aligner":
                config_dict["architectures"] = [
                    "Qwen3ASRForcedAlignerForTokenClassification"
                ]
                config_dict["num_labels"] = config_dict.pop("classify_num")
            kwargs.setdefault("name_or_path", str(model))
            config = Qwen3ASRConfig.from_dict(config_dict, **kwargs)
        elif (
            model_type == "moss_transcribe_diarize"
            and config_dict["audio_config"]["model_type"] == "whisper"
            and hasattr(transformers, "MossTranscribeDiarizeConfig")
        ):
            from transformers import MossTranscribeDiarizeConfig, WhisperConfig

            # Original checkpoints use a plain Whisper encoder
            audio_config = WhisperConfig.from_dict(config_dict["audio_config"])
            config_dict["audio_config"] = audio_config
            config_dict.pop("adaptor_input_dim", None)
            kwargs.setdefault("name_or_path", str(model))
            config = MossTranscribeDiarizeConfig.from_dict(config_dict, **kwargs)
        elif model_type in _ARCHITECTURE_TO_MODEL_TYPE.values():
            from transformers import CONFIG_MAPPING

            kwargs.setdefault("name_or_path", str(model))
            config = CONFIG_MAPPING[model_type].from_dict(config_dict, **kwargs)
        elif model_type in _SPECULATIVE_DECODING_CONFIGS:
            config_class = _CONFIG_REGISTRY[model_type]
            config = config_class.from_pretrained(
                model,
                revision=revision,
                code_revision=code_revision,
                trust_remote_code=trust_remote_code,
                **kwargs,
            )
        else:
            if model_type in _CONFIG_REGISTRY:
                # Register the config class to AutoConfig to ensure it's used
                # in future calls to `from_pretrained` (e.g. from
                # AutoTokenizer or AutoProcessor).
                config_class = _CONFIG_REGISTRY[model_type]
                _register_config_class(model_type, config_class)
                # If the on-disk model_type differs from the overridden
                # one, register under both so AutoConfig.from_pretrained
                # returns the correct class regardless of what the
                # checkpoint says
                if (
                    config_model_type := config_dict.get("model_type")
                ) and config_model_type != model_type:
                    _register_config_class(config_model_type, config_class)
                    config_class.model_type = model_type
                # Now that it is registered, it is not considered remote code anymore
                trust_remote_code = False
            try:
                kwargs = _maybe_update_auto_config_kwargs(kwargs, model_type=model_type)
                config = AutoConfig.from_pretrained(
                    model,
                    trust_remote_code=trust_remote_code,
                    revision=revision,
                    code_revision=code_revision,
                    **kwargs,
                )
            except ValueError as e:
                if (
                    not trust_remote_code
                    and "requires you to execute the configuration file" in str(e)
                ):
                    err_msg = (
                        "Failed to load the model config. If the model "
                        "is a custom model not yet available in the "
                        "HuggingFace transformers library, consider setting "
                        "`trust_remote_code=True` in LLM or using the "
                        "`--trust-remote-code` flag in the CLI."
                    )
                    raise RuntimeError(err_msg) from e
                else:
                    raise e
        config = _maybe_remap_hf_config_attrs(config)
        return config_dict, config


class MistralConfigParser(ConfigParserBase):
    def parse(
        self,
        model: str | Path,
        trust_remote_code: bool,
        revision: str | None = None,
        code_revision: str | None = None,
        **kwargs,
    ) -> tuple[dict, PreTrainedConfig]:
        # This function loads a params.json config which
        # should be used when loading models in mistral format
        config_dict = _download_mistral_config_file(model, revision)
        if (
            max_position_embeddings := config_dict.get("max_position_embeddings")
        ) is None:
            max_position_embeddings = _maybe_retrieve_max_pos_from_hf(
                model, revision, **kwargs
            )
            config_dict["max_position_embeddings"] = max_position_embeddings

        from vllm.transformers_utils.configs.mistral import adapt_config_dict

        # Get missing fields from HF config if available
        try:
            hf_config_dict, _ = PreTrainedConfig.get_config_dict(
                model,
                revision=revision,
                code_revision=code_revision,
                **without_trust_remote_code(kwargs),
            )
        except OSError:  # Not found
            hf_config_dict = {}

        if config_dict.get("dtype") is None:
            with _mistral_patch_hf_hub_constants():
                model_str = model if isinstance(model, str) else model.as_posix()
                param_mt = get_safetensors_params_metadata(model_str, revision=revision)
            if param_mt:
                param_dtypes: set[torch.dtype] = {
                    _SAFETENSORS_TO_TORCH_DTYPE[dtype]
                    for info in param_mt.values()
                    if (dtype := info.get("dtype", None))
                    and dtype in _SAFETENSORS_TO_TORCH_DTYPE
                }

                if param_dtypes:
                    config_dict["dtype"] = common_broadcastable_dtype(param_dtypes)
                    logger.info_once(
                        "Inferred from consolidated*.safetensors files "
                        f"{config_dict['dtype']} dtype."
                    )

        config = adapt_config_dict(config_dict, defaults=hf_config_dict)

        return config_dict, config


_CONFIG_FORMAT_TO_CONFIG_PARSER: dict[str, type[ConfigParserBase]] = {
    "hf": HFConfigParser,
    "mistral": MistralConfigParser,
}

ConfigFormat = Literal[
    "auto",
    "hf",
    "mistral",
]


def get_config_parser(config_format: str) -> ConfigParserBase:
    """Get the config parser for a given config format."""
    if config_format not in _CONFIG_FORMAT_TO_CONFIG_PARSER:
        raise ValueError(f"Unknown config format `{config_format}`.")
    return _CONFIG_FORMAT_TO_CONFIG_PARSER[config_format]()


def register_config_parser(config_format: str):
    """Register a customized vllm config parser.
     When a config format is not supported by vllm, you can register a customized
    config parser to support it.

    Args:
         config_format (str): The config parser format name.

    Examples:
         >>> from vllm.transformers_utils.config import (get_config_parser,
                                                         register_config_parser)
         >>> from vllm.transformers_utils.config_parser_base import ConfigParserBase
         >>>
         >>> @register_config_parser("custom_config_parser")
         ... class CustomConfigParser(ConfigParserBase):
         ...     def parse(
         ...         self,
         ...         model: Union[str, Path],
         ...         trust_remote_code: bool,
         ...         revision: str | None = None,
         ...         code_revision: str | None = None,
         ...         **kwargs,
         ...     ) -> tuple[dict, PreTrainedConfig]:
         ...         raise NotImplementedError
         >>>
         >>> type(get_config_parser("custom_config_parser"))
         <class 'CustomConfigParser'>

    """  # noqa: E501

    def _wrapper(config_parser_cls):
        if config_format in _CONFIG_FORMAT_TO_CONFIG_PARSER:
            logger.warning(
                "Config format `%s` is already registered, and will be "
                "overwritten by the new parser class `%s`.",
                config_format,
                config_parser_cls,
            )
        if not issubclass(config_parser_cls, ConfigParserBase):
            raise ValueError(
                "The config parser must be a subclass of `ConfigParserBase`."
            )
        _CONFIG_FORMAT_TO_CONFIG_PARSER[config_format] = config_parser_cls
        logger.info(
            "Registered config parser `%s` with config format `%s`",
            config_parser_cls,
            config_format,
        )
        return config_parser_cls

    return _wrapper


def set_default_rope_theta(config: PreTrainedConfig, default_theta: float) -> None:
    """Some models may have no rope_theta in their config but still use RoPE.
    This function sets a default rope_theta if it's missing."""
    if getattr(config, "rope_parameters", None) is None:
        config.rope_parameters = {"rope_type": "default"}
    if "rope_theta" not in config.rope_parameters:
        config.rope_parameters["rope_theta"] = default_theta


def patch_legacy_rope_type(rope_parameters: dict[str, Any] | None) -> None:
    """Patch legacy RoPE type fields for backwards compatibility with
    older custom models which would otherwise fail to load."""
    # No RoPE parameters to patch
    if rope_parameters is None:
        return

    def _patch_legacy_rope_type(rope_parameters: dict[str, Any]) -> None:
        # Case 1: Both legacy and modern fields present - check for conflicts
        if "rope_type" in rope_parameters and "type" in rope_parameters:
            rope_type = rope_parameters["rope_type"]
            rope_type_legacy = rope_parameters["type"]
            if (rope_type_legacy == "su" and rope_type == "longrope") or (
                rope_type_legacy == "mrope" and rope_type == "default"
            ):
                pass  # No action needed
            elif rope_type != rope_type_legacy:
                raise ValueError(
                    f"Found conflicts between 'rope_type={rope_type}' (modern "
                    f"field) and 'type={rope_type_legacy}' (legacy field). "
                    "You should only specify one of them."
                )
        # Case 2: Only legacy field present - patch to modern format with warning
        if "rope_type" not in rope_parameters and "type" in rope_parameters:
            rope_parameters["rope_type"] = rope_parameters["type"]
            logger.info("Replacing legacy 'type' key with 'rope_type'")
        # Case 3: No rope_type field present - nothing to patch
        if "rope_type" not in rope_parameters:
            return
        # Patch legacy rope_type values with warning
        if rope_parameters["rope_type"] == "su":
            rope_parameters["rope_type"] = "longrope"
            logger.warning("Replacing legacy rope_type 'su' with 'longrope'")
        elif rope_parameters["rope_type"] == "mrope":
            if "mrope_section" not in rope_parameters:
                raise ValueError(
                    "Legacy rope_type 'mrope' requires "
                    "'mrope_section' in rope_parameters"
                )
            rope_parameters["rope_type"] = "default"
            logger.warning("Replacing legacy rope_type 'mrope' with 'default'")
        elif rope_parameters["rope_type"] == "telechat3-yarn":
            # TeleChat3 is YaRN with 0.07 in place of YaRN's 0.1 attention
            # scaling coefficient. Precompute it so the config is plain YaRN.
            factor = rope_parameters["factor"]
            rope_parameters["rope_type"] = "yarn"
            rope_parameters["attention_factor"] = 0.07 * math.log(factor) + 1.0
            rope_parameters.pop("type", None)
            logger.warning("Replacing rope_type 'telechat3-yarn' with 'yarn'")

    # Handle nested rope_parameters in interleaved sliding attention models
    if is_rope_parameters_nested(rope_parameters):
        for rope_parameters_layer_type in rope_parameters.values():
            if rope_parameters_layer_type is not None:
                _patch_legacy_rope_type(rope_parameters_layer_type)
    else:
        _patch_legacy_rope_type(rope_parameters)


def patch_rope_parameters(config: PreTrainedConfig) -> None:
    """Provide backwards compatibility for RoPE."""
    from vllm.config.utils import getattr_iter

    # Older custom models may use non-standard field names which need patching.
    names = ["rope_theta", "rotary_emb_base"]
    rope_theta = getattr_iter(config, names, None, warn=True)
    names = ["partial_rotary_factor", "rotary_pct", "rotary_emb_fraction"]
    partial_rotary_factor = getattr_iter(config, names, None, warn=True)

    if rope_theta is not None or getattr(config, "rope_parameters", None):
        # Patch these fields in case they used non-standard names
        if rope_theta is not None:
            config.rope_theta = rope_theta
        if partial_rotary_factor is not None:
            config.partial_rotary_factor = partial_rotary_factor
        # Standardize and validate RoPE parameters
        patch_legacy_rope_type(getattr(config, "rope_parameters", None))
        config.standardize_rope_params()
        config.validate_rope()


def iter_rope_parameters(config: PreTrainedConfig) -> Iterator[dict[str, Any]]:
    """Yield a config's rope parameters, one dict per layer type if nested."""
    rope_parameters = getattr(config, "rope_parameters", None)
    if not isinstance(rope_parameters, dict):
        return

    if is_rope_parameters_nested(rope_parameters):
        yield from (p for p in rope_parameters.values() if isinstance(p, dict) and p)
    elif rope_parameters:
        yield rope_parameters


def _mrope_section(config: PreTrainedConfig) -> Sequence[int] | None:
    """Return the M-RoPE section this config declares, if any.

    `xdrope_section` is the legacy name HunYuan-VL checkpoints use for the same
    field; upstream Transformers normalises it to `mrope_section`.
    """
    from vllm.config.utils import getattr_iter

    names = ("mrope_section", "xdrope_section")

    for params in iter_rope_parameters(config):
        for i, name in enumerate(names):
            section = params.get(name)
            if isinstance(section, (list, tuple)):
                if i > 0:
                    logger.warning_once(
                        "rope_parameters contains a deprecated key '%s'. "
                        "Please use the preferred key '%s' instead.",
                        name,
                        names[0],
                    )
                return section

    section = getattr_iter(config, names, None, warn=True)
    return section if isinstance(section, (list, tuple)) else None


def _uses_mrope(config: PreTrainedConfig) -> bool:
    return _mrope_section(config) is not None


def uses_mrope(config: PreTrainedConfig) -> bool:
    """Detect if the model with this config uses M-ROPE."""
    return (
        _uses_mrope(config)
        or _uses_mrope(config.get_text_config())
        or thinker_uses_mrope(config)
    )


def thinker_uses_mrope(config: PreTrainedConfig) -> bool:
    """Detect if the model contains a thinker config and it uses M-ROPE."""
    thinker_config = getattr(config, "thinker_config", None)
    if thinker_config is None:
        return False

    thinker_text_config = getattr(thinker_config, "text_config", None)
    if thinker_text_config is None:
        return False

    return uses_mrope(thinker_text_config)


def mrope_num_dims(config: PreTrainedConfig) -> int:
    """Number of M-RoPE position channels the model consumes.

    Each section entry sizes one channel, so the section length is the channel
    count. Interleaved M-RoPE also accepts a 2 section variant whose positions
    are still 3D, so never return fewer than 3.
    """
    if not uses_mrope(config):
        return 0

    for candidate in (config.get_text_config(), config):
        mrope_section = _mrope_section(candidate)
        if mrope_section is not None:
            return max(len(mrope_section), 3)

    # Custom configs may declare M-RoPE without exposing the sections.
    return 3


def is_encoder_decoder(config: PreTrainedConfig) -> bool:
    """Detect if the model with this config is used as an encoder/decoder."""

    def _is_encoder_decoder(config: PreTrainedConfig) -> bool:
        return getattr(config, "is_encoder_decoder", False)

    return _is_encoder_decoder(config) or _is_encoder_decoder(config.get_text_config())


def _maybe_update_auto_config_kwargs(kwargs: dict[str, Any], model_type: str):
    """Update kwargs for AutoConfig initialization based on model_type."""
    if model_type in _AUTO_CONFIG_KWARGS_OVERRIDES:
        kwargs.update(_AUTO_CONFIG_KWARGS_OVERRIDES[model_type])
    return kwargs


def _maybe_remap_hf_config_attrs(config: PreTrainedConfig) -> PreTrainedConfig:
    """Remap config attributes to match the expected names."""
    for old_attr, new_attr in _CONFIG_ATTRS_MAPPING.items():
        if hasattr(config, old_attr):
            if not hasattr(config, new_attr):
                config.update({new_attr: getattr(config, old_attr)})
            logger.debug("Remapped config attribute '%s' to '%s'", old_attr, new_attr)
    return config


def maybe_override_with_speculators(
    model: str,
    tokenizer: str | None,
    trust_remote_code: bool,
    revision: str | None = None,
    vllm_speculative_config: dict[str, Any] | None = None,
    hf_token: bool | str | None = None,
    **kwargs,
) -> tuple[str, str | None, dict[str, Any] | None]:
    """Resolve model configuration when speculators are detected.

    Checks if the provided model is a speculators model and if so, extracts
    the target model configuration and builds the speculative config.

    Args:
        model: Model name or path
        tokenizer: Tokenizer name or path
        trust_remote_code: Whether to trust remote code
        revision: Model revision
        vllm_speculative_config: Existing vLLM speculative config
        hf_token: HuggingFace token for authenticated model access

    Returns:
        Tuple of (resolved_model, resolved_tokenizer, speculative_config)

    """
    # A single local file (e.g. a .gguf checkpoint) has no speculators config.
    if os.path.isfile(model):
        return model, tokenizer, vllm_speculative_config

    kwargs["local_files_only"] = huggingface_hub.constants.HF_HUB_OFFLINE
    config_dict, _ = PreTrainedConfig.get_config_dict(
        model,
        revision=revision,
        token=hf_token,
        **without_trust_remote_code(kwargs),
    )
    speculators_config = config_dict.get("speculators_config")

    if speculators_config is None:
        # No speculators config found, return original values
        return model, tokenizer, vllm_speculative_config

    # Speculators format detected - process overrides
    from vllm.transformers_utils.configs.speculators.base import SpeculatorsConfig
    from vllm.v1.worker.gpu.spec_decode.speculator_config import (
        get_custom_speculator_config_class,
    )

    speculative_config = SpeculatorsConfig.extract_vllm_speculative_config(
        config_dict=config_dict
    )
    speculators_method = speculative_config["method"]

    # Apply user --speculative-config overrides (e.g. attention_backend).
    if isinstance(vllm_speculative_config, dict):
        speculative_config.update(vllm_speculative_config)

    # Lock fields dictated by the speculators format, except for a custom
    # method based on the checkpoint's.
    custom_config_cls = get_custom_speculator_config_class(speculative_config["method"])
    if custom_config_cls is None:
        speculative_config["method"] = speculators_method
    elif custom_config_cls.base_method != speculators_method:
        raise ValueError(
            f"Speculative method '{speculative_config['method']}' is based on "
            f"'{custom_config_cls.base_method}', but the speculators "
            f"checkpoint {model} is for '{speculators_method}'."
        )
    speculative_config["model"] = model

    # Override model and tokenizer with the verifier model from config
    verifier_model = speculators_config["verifier"]["name_or_path"]
    verifier_error = (
        "Speculators verifier must name a remote model repository. "
        "Select local verifiers explicitly with --model and --speculative-config."
    )
    if not isinstance(verifier_model, str):
        raise ValueError(verifier_error)
    try:
        validate_repo_id(verifier_model)
    except HFValidationError as exc:
        raise ValueError(verifier_error) from exc
    verifier_path = Path(verifier_model)
    if verifier_path.exists() or verifier_path.is_symlink():
        raise ValueError(verifier_error)
    model = tokenizer = verifier_model

    return model, tokenizer, speculative_config


def get_config(
    model: str | Path,
    trust_remote_code: bool,
    revision: str | None = None,
    code_revision: str | None = None,
    config_format: str | ConfigFormat = "auto",
    hf_overrides_kw: dict[str, Any] | None = None,
    hf_overrides_fn: Callable[[PreTrainedConfig], PreTrainedConfig] | None = None,
    **kwargs,
) -> PreTrainedConfig:
    if config_format == "auto":
        try:
            # First check for Mistral to avoid defaulting to
            # Transformers implementation.
            if is_mistral_model_repo(
                model_name_or_path=str(model), revision=revision
            ) and file_or_path_exists(
                model=model, config_name=MISTRAL_CONFIG_NAME, revision=revision
            ):
                config_format = "mistral"
            elif file_or_path_exists(model, HF_CONFIG_NAME, revision=revision):
                config_format = "hf"
            else:
                raise ValueError(
                    "Could not detect config format for no config file found. "
                    "With config_format 'auto', ensure your model has either "
                    "config.json (HF format) or params.json (Mistral format). "
                    "Otherwise please specify your_custom_config_format "
                    "in engine args for customized config parser."
                )

        except Exception as e:
            error_message = (
                "Invalid repository ID or local directory specified:"
                f" '{model}'.\nPlease verify the following requirements:\n"
                "1. Provide a valid Hugging Face repository ID.\n"
                "2. Specify a local directory that contains a recognized "
                "configuration file.\n"
                "   - For Hugging Face models: ensure the presence of a "
                "'config.json'.\n"
                "   - For Mistral models: ensure the presence of a "
                "'params.json'.\n"
            )

            raise ValueError(error_message) from e

    config_parser = get_config_parser(config_format)
    # Retry to tolerate a concurrent HF cache refresh briefly hiding config.json.
    config_dict, config = with_retry(
        lambda: config_parser.parse(
            model,
            trust_remote_code=trust_remote_code,
            revision=revision,
            code_revision=code_revision,
            hf_overrides=hf_overrides_kw or hf_overrides_fn,
            **kwargs,
        ),
        f"Error parsing config for {model}",
    )

    # Architecture mapping for models without explicit architectures field
    if not config.architectures:
        if config.model_type not in MODEL_MAPPING_NAMES:
            logger.warning(
                "Model config does not have a top-level 'architectures' field: "
                "expecting `hf_overrides={'architectures': ['...']}` to be passed "
                "in engine args."
            )
        else:
            model_type = MODEL_MAPPING_NAMES[config.model_type]
            config.update({"architectures": [model_type]})

    # ModelOpt 0.31.0 and after saves the quantization config in the model
    # config file.
    quantization_config = config_dict.get("quantization_config", None)

    # ModelOpt 0.29.0 and before saves the quantization config in a separate
    # "hf_quant_config.json" in the same directory as the model config file.
    if quantization_config is None and file_or_path_exists(
        model, "hf_quant_config.json", revision
    ):
        quantization_config = get_hf_file_to_dict(
            "hf_quant_config.json", model, revision
        )

    if quantization_config is not None:
        config.quantization_config = quantization_config
        # auto-enable DeepGEMM UE8M0 if model config requests it
        scale_fmt = quantization_config.get("scale_fmt", None)
        if scale_fmt in ("ue8m0",):
            if not envs.is_set("VLLM_USE_DEEP_GEMM_E8M0"):
                os.environ["VLLM_USE_DEEP_GEMM_E8M0"] = "1"
                logger.info_once(
                    (
                        "Detected quantization_config.scale_fmt=%s; "
                        "enabling UE8M0 for DeepGEMM."
                    ),
                    scale_fmt,
                )
            elif not envs.VLLM_USE_DEEP_GEMM_E8M0:
                logger.warning_once(
                    (
                        "Model config requests UE8M0 "
                        "(quantization_config.scale_fmt=%s), but "
                        "VLLM_USE_DEEP_GEMM_E8M0=0 is set; "
                        "UE8M0 for DeepGEMM disabled."
                    ),
                    scale_fmt,
                )

    if hf_overrides_kw:
        logger.debug("Overriding HF config with %s", hf_overrides_kw)
        config.update(hf_overrides_kw)
    if hf_overrides_fn:
        logger.debug("Overriding HF config with %s", hf_overrides_fn)
        config = hf_overrides_fn(config)

    # Exhaustively patch RoPE parameters everywhere they might be
    patch_rope_parameters(config)
    patch_rope_parameters(config.get_text_config())
    SubConfigs: TypeAlias = dict[str, PreTrainedConfig]
    sub_configs: SubConfigs | None = getattr(config, "sub_configs", None)
    if sub_configs:
        for sub_config in sub_configs:
            patch_rope_parameters(getattr(config, sub_config))

    if trust_remote_code:
        maybe_register_config_serialize_by_value()

    return config


@cache
def get_pooling_config(
    model: str,
    revision: str | None = "main",
) -> dict[str, Any] | None:
    """This function gets the pooling and normalize
    config from the model - only applies to
    sentence-transformers models.

    Args:
        model: The name of the Hugging Face model.
        revision: The specific version of the model to use.
            Defaults to 'main'.

    Returns:
        A dictionary containing the pooling type and whether
            normalization is used, or None if no pooling configuration is found.

    """
    modules_file_name = "modules.json"

    modules_dict = None
    if file_or_path_exists(
        model=model, config_name=modules_file_name, revision=revision
    ):
        modules_dict = get_hf_file_to_dict(modules_file_name, model, revision)

    if modules_dict is None:
        return None

    logger.info("Found sentence-transformers modules configuration.")

    pooling = next(
        (item for item in modules_dict if item["type"] in _ST_POOLING_MODULE_TYPES),
        None,
    )
    normalize = bool(
        next(
            (
                item
                for item in modules_dict
                if item["type"] in _ST_NORMALIZE_MODULE_TYPES
            ),
            False,
        )
    )

    if pooling:
        from vllm.config.pooler import SEQ_POOLING_TYPES, TOK_POOLING_TYPES

        pooling_file_name = "{}/config.json".format(pooling["path"])
        pooling_dict = get_hf_file_to_dict(pooling_file_name, model, revision) or {}

        logger.info("Found pooling configuration.")

        config: dict[str, Any] = {"use_activation": normalize}
        for key, val in pooling_dict.items():
            if key == "pooling_mode" and isinstance(val, str):
                pooling_name = val
            elif val is True:
                pooling_name = key
            else:
                continue

            pooling_type = parse_pooling_type(pooling_name)
            if pooling_type in SEQ_POOLING_TYPES:
                config["seq_pooling_type"] = pooling_type
            elif pooling_type in TOK_POOLING_TYPES:
                config["tok_pooling_type"] = pooling_type
            else:
                logger.debug("Skipping unrelated field: %r=%r", key, val)

        if not {"seq_pooling_type", "tok_pooling_type"} & config.keys():
            logger.warning(
                "Unable to determine Sentence Transformers pooling type from %s; "
                "unless configured explicitly, vLLM will fall back to the model "
                "architecture default.",
                pooling_file_name,
            )

        return config

    return None


def parse_pooling_type(pooling_name: str):
    if "pooling_mode_" in pooling_name:
        pooling_name = pooling_name.replace("pooling_mode_", "")

    if "_" in pooling_name:
        pooling_name = pooling_name.split("_", 1)[0]

    if "lasttoken" in pooling_name:
        pooling_name = "last"

    return pooling_name.upper()


@cache
def get_sentence_transformer_tokenizer_config(
    model: str | Path, revision: str | None = "main"
) -> dict[str, Any] | None:
    """Returns the tokenization configuration dictionary for a
    given Sentence Transformer BERT model.

    Args:
        model (str|Path): The name of the Sentence Transformer BERT model.
        revision (str, optional): The revision of the model to use. Defaults to 'main'.

    Returns:
    - dict: A dictionary containing the configuration parameters
    for the Sentence Transformer BERT model.

    """
    sentence_transformer_config_files = [
        "sentence_bert_config.json",
        "sentence_roberta_config.json",
        "sentence_distilbert_config.json",
        "sentence_camembert_config.json",
        "sentence_albert_config.json",
        "sentence_xlm-roberta_config.json",
        "sentence_xlnet_config.json",
    ]
    encoder_dict = None

    for config_file in sentence_transformer_config_files:
        if isinstance(
            try_get_local_file(model=model, file_name=config_file, revision=revision),
            Path,
        ):
            encoder_dict = get_hf_file_to_dict(config_file, model, revision)
            if encoder_dict:
                break

    if not encoder_dict and not Path(model).is_absolute():
        try:
            # If model is on HuggingfaceHub, get the repo files
            repo_files = list_repo_files(model, revision=revision)
        except Exception:
            repo_files = []

        for config_name in sentence_transformer_config_files:
            if config_name in repo_files:
                encoder_dict = get_hf_file_to_dict(config_name, model, revision)
                if encoder_dict:
                    break

    if not encoder_dict:
        return None

    logger.info("Found sentence-transformers tokenize configuration.")

    if "max_seq_length" in encoder_dict:
        return encoder_dict
    return None


def maybe_register_config_serialize_by_value() -> None:
    """Try to register HF model configuration class to serialize by value

    If trust_remote_code is set, and the model's config file specifies an
    `AutoConfig` class, then the config class is typically an instance of
    a custom class imported from the HF modules cache.

    Examples:

    >>> from transformers import AutoConfig
    >>> klass = AutoConfig.from_pretrained(
    ...     "meta-llama/Meta-Llama-3-8B", trust_remote_code=True
    ... )
    >>> klass.__class__  # transformers.models.llama.configuration_llama.LlamaConfig
    >>> import transformers_modules  # error, not initialized
    >>> klass = AutoConfig.from_pretrained(
    ...     "deepseek-ai/DeepSeek-V2.5", trust_remote_code=True
    ... )
    >>> import transformers_modules  # success, initialized
    >>> klass.__class__  # transformers_modules.deepseek-ai.DeepSeek-V2.5.98b11844770b2c3ffc18b175c758a803640f4e77.configuration_deepseek.DeepseekV2Config

    In the DeepSeek example, the config class is an instance of a custom
    class that is not serializable by default. This class will not be
    importable in spawned workers, and won't exist at all on
    other nodes, which breaks serialization of the config.

    In this function we tell the cloudpickle serialization library to pass
    instances of these generated classes by value instead of by reference,
    i.e. the class definition is serialized along with its data so that the
    class module does not need to be importable on the receiving end.

    See: https://github.com/cloudpipe/cloudpickle?tab=readme-ov-file#overriding-pickles-serialization-mechanism-for-importable-constructs
    """  # noqa
    try:
        import transformers_modules

        transformers_modules_available = True
    except ImportError:
        transformers_modules_available = False

    try:
        import multiprocessing
        import pickle

        import cloudpickle

        from vllm.config import VllmConfig

        # Register multiprocessing reducers to handle cross-process
        # serialization of VllmConfig objects that may contain custom configs
        # from transformers_modules
        def _reduce_config(config: VllmConfig):
            return (pickle.loads, (cloudpickle.dumps(config),))

        multiprocessing.reducer.register(VllmConfig, _reduce_config)

        # Register transformers_modules with cloudpickle if available
        if transformers_modules_available:
            cloudpickle.register_pickle_by_value(transformers_modules)

            # ray vendors its own version of cloudpickle
            from vllm.v1.executor.ray_utils import ray

            if ray:
                ray.cloudpickle.register_pickle_by_value(transformers_modules)

    except Exception as e:
        logger.warning(
            "Unable to register remote classes used by"
            " trust_remote_code with by-value serialization. This may"
            " lead to a later error. If remote code is not needed"
            " remove `--trust-remote-code`",
            exc_info=e,
        )


def get_hf_image_processor_config(
    model: str | Path,
    hf_token: bool | str | None = None,
    revision: str | None = None,
    **kwargs,
) -> dict[str, Any]:
    # ModelScope does not provide an interface for image_processor
    if envs.VLLM_USE_MODELSCOPE:
        return dict()
    return get_image_processor_config(
        model, token=hf_token, revision=revision, **kwargs
    )


def get_hf_text_config(config: PreTrainedConfig):
    """Get the "sub" config relevant to llm for multi modal models.
    No op for pure text models.
    """
    text_config = config.get_text_config()

    if text_config is not config and not hasattr(text_config, "num_attention_heads"):
        raise ValueError(
            "The text_config extracted from the model config does not have "
            "`num_attention_heads` attribute. This indicates a mismatch "
            "between the model config and vLLM's expectations. Please "
            "ensure that the model config is compatible with vLLM."
        )

    return text_config


def try_get_generation_config(
    model: str,
    trust_remote_code: bool,
    revision: str | None = None,
    code_revision: str | None = None,
    config_format: str | ConfigFormat = "auto",
    hf_token: bool | str | None = None,
) -> GenerationConfig | None:
    try:
        return GenerationConfig.from_pretrained(
            model,
            revision=revision,
            token=hf_token,
        )
    except OSError:  # Not found
        try:
            config = get_config(
                model,
                trust_remote_code=trust_remote_code,
                revision=revision,
                code_revision=code_revision,
                config_format=config_format,
                token=hf_token,
            )
            return GenerationConfig.from_model_config(config)
        except OSError:  # Not found
            return None


def try_get_safetensors_metadata(
    model: str,
    *,
    revision: str | None = None,
):
    get_safetensors_metadata_partial = partial(
        hf_api().get_safetensors_metadata, model, revision=revision
    )

    try:
        return with_retry(
            get_safetensors_metadata_partial,
            "Error retrieving safetensors",
            fatal_errors=(
                huggingface_hub.errors.NotASafetensorsRepoError,
                huggingface_hub.errors.OfflineModeIsEnabled,
            ),
        )
    except Exception:
        return None


def try_get_tokenizer_config(
    pretrained_model_name_or_path: str | os.PathLike,
    trust_remote_code: bool,
    revision: str | None = None,
) -> dict[str, Any] | None:
    try:
        return get_tokenizer_config(
            pretrained_model_name_or_path,
            trust_remote_code=trust_remote_code,
            revision=revision,
        )
    except Exception:
        return None


@cache
def try_get_dense_modules(
    model: str | Path,
    revision: str | None = None,
) -> list[dict[str, Any]] | None:
    try:
        modules = get_hf_file_to_dict("modules.json", model, revision)
        if not modules:
            return None

        if isinstance(modules, dict):
            modules = modules.get("modules", [])

        dense_modules = [m for m in modules if m.get("type") in _DENSE_MODULE_TYPES]
        if not dense_modules:
            return None

        layer_configs = []
        for module in dense_modules:
            folder = module.get("path", "")

            config_path = f"{folder}/config.json" if folder else "config.json"
            layer_config = get_hf_file_to_dict(config_path, model, revision)
            if not layer_config:
                continue
            layer_config["folder"] = folder
            layer_configs.append(layer_config)
        return layer_configs
    except Exception:
        return None


@cache
def get_sentence_transformers_chat_template_kwargs(
    model: str | Path,
    revision: str | None = None,
) -> dict[str, Any] | None:
    """Get the saved chat template settings of a Sentence Transformers
    CrossEncoder whose single Transformer module declares the `message`
    modality.

    Sentence Transformers formats the pairs of such checkpoints as
    `query`/`document` messages with the saved chat template.

    Args:
        model: Local checkpoint path or Hugging Face model ID.
        revision: Model revision to inspect.

    Returns:
        The saved `processing_kwargs.chat_template` (possibly empty), or
        `None` if the checkpoint does not declare the `message` modality.

    Raises:
        ValueError: If the saved chat template settings are unsupported.

    """
    try:
        st_config = get_hf_file_to_dict(
            "config_sentence_transformers.json", model, revision
        )
        if not isinstance(st_config, dict) or (
            st_config.get("model_type") != "CrossEncoder"
        ):
            return None
        modules = get_hf_file_to_dict("modules.json", model, revision)
        transformer_config = get_hf_file_to_dict(
            "sentence_bert_config.json", model, revision
        )
    except Exception:
        logger.debug("Failed to read the Sentence Transformers config", exc_info=True)
        return None

    if isinstance(modules, dict):
        modules = modules.get("modules")
    if not (
        isinstance(modules, list)
        and len(modules) == 1
        and isinstance(modules[0], dict)
        and modules[0].get("type") in _ST_TRANSFORMER_MODULE_TYPES
        and not modules[0].get("path")
        and isinstance(transformer_config, dict)
        and transformer_config.get("transformer_task") == "sequence-classification"
        and isinstance(
            modality_config := transformer_config.get("modality_config"), dict
        )
        and "message" in modality_config
    ):
        return None

    processing_kwargs = transformer_config.get("processing_kwargs") or {}
    chat_template_kwargs = (
        processing_kwargs.get("chat_template") or {}
        if isinstance(processing_kwargs, dict)
        else None
    )
    if not isinstance(chat_template_kwargs, dict):
        raise ValueError(
            "The Sentence Transformers processing_kwargs.chat_template must be "
            "a JSON object."
        )
    chat_template_kwargs = dict(chat_template_kwargs)
    # vLLM does not restore the template suffix after truncation.
    chat_template_kwargs.pop("restore_suffix", None)
    if not isinstance(chat_template_kwargs.get("chat_template", ""), str):
        raise ValueError(
            "The Sentence Transformers chat template name must be a string."
        )
    if reserved := {"tokenize", "tools"} & chat_template_kwargs.keys():
        raise ValueError(
            f"Unsupported Sentence Transformers chat template settings: {reserved}"
        )
    return chat_template_kwargs


def _read_safetensors_metadata_in_dir(local_dir: Path) -> dict[str, Any]:
    return {
        param_name: info
        for file_path in local_dir.glob("*.safetensors")
        if file_path.is_file()
        for param_name, info in parse_safetensors_file_metadata(file_path).items()
    }


def _read_safetensors_metadata_in_repo(
    model: str,
    *,
    revision: str | None = None,
) -> dict[str, Any]:
    api = hf_api()
    try:
        filenames = [
            filename
            for filename in api.list_repo_files(model, revision=revision)
            if filename.endswith(".safetensors")
        ]
        return {
            param_name: asdict(info)
            for filename in filenames
            for param_name, info in api.parse_safetensors_file_metadata(
                model, filename, revision=revision
            ).tensors.items()
        }
    except Exception as e:
        logger.debug("Could not read safetensors headers for %s: %s", model, e)
        return {}


def get_safetensors_params_metadata(
    model: str,
    *,
    revision: str | None = None,
) -> dict[str, Any]:
    """Get the safetensors parameters metadata for remote/local model repository."""
    if (model_path := Path(model)).exists():
        return _read_safetensors_metadata_in_dir(model_path)

    repo_mt = try_get_safetensors_metadata(model, revision=revision)
    if repo_mt and (files_mt := repo_mt.files_metadata):
        return {
            param_name: asdict(info)
            for file_mt in files_mt.values()
            for param_name, info in file_mt.tensors.items()
        }

    # `get_safetensors_metadata` only looks for `model.safetensors` and its
    # index, so older checkpoints naming their weights differently land here
    # even though their headers are perfectly readable.
    if metadata := _read_safetensors_metadata_in_repo(model, revision=revision):
        return metadata

    # Hub fetch failed (e.g. 429, network unreachable). Fall back to the
    # local HF cache: weights may already be cached from a prior run, and
    # weight loading itself uses the same cache.
    try:
        local_dir = hf_api().snapshot_download(
            repo_id=model,
            revision=revision,
            allow_patterns=["*.safetensors"],
            local_files_only=True,
        )
    except huggingface_hub.errors.LocalEntryNotFoundError as e:
        logger.warning_once(
            "Could not retrieve safetensors metadata for %s "
            "(Hub fetch failed and no local cache snapshot is available): %s.",
            model,
            str(e),
        )
        return {}

    metadata = _read_safetensors_metadata_in_dir(Path(local_dir))
    if not metadata:
        logger.warning_once(
            "Could not retrieve safetensors metadata for %s "
            "(Hub fetch failed and the cached snapshot holds no weights yet).",
            model,
        )
    return metadata


@cache
def checkpoint_has_lm_head(model: str, *, revision: str | None = None) -> bool | None:
    """Whether the checkpoint contains an `lm_head` tensor of its own.

    Args:
        model: Name or path of the model repository.
        revision: The specific model version to use.

    Returns:
        `None` if the checkpoint contents could not be determined, for example
        because it is not stored as safetensors.

    """
    metadata = get_safetensors_params_metadata(model, revision=revision)
    if not metadata:
        return None
    return any(name.endswith("lm_head.weight") for name in metadata)


def _download_mistral_config_file(model, revision) -> dict:
    config_file_name = "params.json"
    config_dict = get_hf_file_to_dict(config_file_name, model, revision)
    if config_dict is None:
        raise ValueError(
            f"Failed to load mistral '{config_file_name}' config for model "
            f"{model}. Please check if the model is a mistral-format model "
            f"and if the config file exists."
        )
    assert isinstance(config_dict, dict)
    return config_dict


def _maybe_retrieve_max_pos_from_hf(model, revision, **kwargs) -> int:
    max_position_embeddings = 128_000
    try:
        trust_remote_code_val = kwargs.get("trust_remote_code", False)
        hf_config = get_config(
            model=model,
            trust_remote_code=trust_remote_code_val,
            revision=revision,
            config_format="hf",
        )
        if hf_value := hf_config.get_text_config().max_position_embeddings:
            max_position_embeddings = hf_value
    except Exception as e:
        logger.warning(
            "The params.json file is missing 'max_position_embeddings'"
            " and could not get a value from the HF config."
            " Defaulting to 128000",
            exc_info=e,
        )

    return max_position_embeddings
