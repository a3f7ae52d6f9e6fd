"""``serving``: what the serving engine is about to be asked to do, and whether it will boot.

Reads the launch (the very argv ``preflight`` execs after ``--``, or that ``facts --`` names;
else ``command`` in the config), finds the model it names, reads the model's shape and weights from its files
(headers only), what is installed as the engine will see it, the GPUs the process will see,
and works out the fit. Nothing is imported from the engines and no weight is read: a 30-shard
checkpoint costs milliseconds.

Config (``providers.serving`` in ``wfgy.yaml``)::

    providers:
      serving:
        command: vllm serve ./model --max-model-len 8192   # or a list; for eval in CI
        env: {VLLM_ATTENTION_BACKEND: FLASH_ATTN}           # the engine's env in the pod (for eval)
        model_dir: ./model            # where the model is when the launch names a hub id
                                      # (default: providers.runtime.model_dir)
        torch_probe: false            # true: ask the installed torch for its exact arch list
                                      # (imports torch in a subprocess, ~1-2 s)

Facts (``serving.*``)::

    launch:                           # `wfgy_rules.providers.serving.launch`
      source: command                 # command (the CMD ARGS after `preflight --` or `facts --`) | config | null
      engine: vllm                    # vllm | sglang | tgi | llama.cpp | null (not a known engine)
      gpu_only: true
      model: meta-llama/Llama-3.1-8B-Instruct
      tensor_parallel_size: 1
      max_model_len: null             # null: derived from the model
      dtype: auto
      …                               # every normalised flag; unknown_flags, errors
    model:
      given: meta-llama/Llama-3.1-8B-Instruct
      located: runtime.model_dir      # launch | serving.model_dir | runtime.model_dir | hf-cache | null
      looks_local: false              # the launch names a path, not a hub id
      present: true
      path: ./model                   # as configured or given
      shape: {…}                      # `wfgy_rules.providers.model.shape`: layers, heads, derived_context, …
      weights: {…}                    # `wfgy_rules.providers.model.weights`: formats, weight_bytes, complete, …
      chat_template: true             # the tokenizer files carry one (null: no tokenizer_config.json)
      context_judged: true            # false for rope scaling whose context differs across engines and releases
      context_not_judged_because: null
    installed: {…}                    # `wfgy_rules.providers.serving.installed_facts`
    gpus: {…}                         # `wfgy_rules.providers.serving.gpus`
    requirements: {…}                 # minimum compute capabilities (`wfgy_rules.providers.serving.capabilities`)
    fit: {…}                          # `wfgy_rules.providers.serving.fit`

Argument values the engine treats as secrets (``--api-key``, ``--hf-token``) never reach a
fact; unknown flags are listed by name only.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfgy_rules.documents.bounded_read import InputRefused, read_bounded
from wfgy_rules.errors import EvaluationError, ProviderError
from wfgy_rules.policy import versions
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.model.model_files import read_json
from wfgy_rules.providers.model.shape import model_shape
from wfgy_rules.providers.model.weights import weight_facts
from wfgy_rules.providers.serving.capabilities import requirement_facts
from wfgy_rules.providers.serving.fit import fit_facts
from wfgy_rules.providers.serving.gpus import visible_gpus
from wfgy_rules.providers.serving.installed_facts import installed_facts
from wfgy_rules.providers.serving.launch import parse_launch
from wfgy_rules.providers.serving.model_location import locate_model

# Flags (vLLM, SGLang) whose presence may spread the launch over several nodes.
MULTI_NODE_FLAGS = frozenset({
    "--distributed-executor-backend", "--nnodes", "--node-rank", "--dist-init-addr", "--headless",
    "--data-parallel-address", "--data-parallel-size-local", "--master-addr",
})
MAX_CONFIG_FILE_BYTES = 1024 * 1024
CONTEXT_DERIVED_BY = "0.34.0"  # the vLLM whose max_model_len derivation model/vllm_context.py follows

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "serving provider",
    "description": "The serving engine's launch, the model it names, the GPUs it will see, and whether it fits.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "command": {
            "title": "Command",
            "description": "The engine's launch, for eval in CI (preflight's -- CMD wins): a list of arguments or one shell-quoted string.",
            "oneOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ],
        },
        "env": {
            "title": "Engine environment",
            "description": "Environment variables the engine will have in the pod (TGI's MODEL_ID, NUM_SHARD…), for eval in CI.",
            "type": "object",
            "additionalProperties": {"type": "string"},
        },
        "model_dir": {
            "title": "Model directory",
            "description": "Where the model is when the launch names a hub id, relative to wfgy.yaml (default: providers.runtime.model_dir).",
            "type": "string",
            "minLength": 1,
        },
        "torch_probe": {
            "title": "Probe torch",
            "description": "Ask the installed torch for its exact CUDA arch list (imports torch in a subprocess) instead of the table of published builds.",
            "type": "boolean",
            "default": False,
        },
    },
}


class ServingProvider:
    """Facts about the serving launch and its fit (see the module docstring)."""

    config_schema = CONFIG_SCHEMA

    def collect(self, config: Mapping[str, Any], ctx: ProviderContext) -> dict[str, Any]:
        argv, source, environ, launch_base = _launch_input(config, ctx)
        parsed = parse_launch(argv, environ, _reader(launch_base))
        launch = {"source": source if parsed["engine"] else None, **parsed, "multi_node": _multi_node(parsed)}
        location = locate_model(launch.get("model"), launch_base, ctx.settings, environ, ctx.base_dir)
        model = _model_facts(launch, location)
        gpus = visible_gpus(_nvml_facts(ctx), environ)
        if launch["engine"] == "tgi" and launch["tensor_parallel_size"] is None and gpus["visible_count"]:
            launch["tensor_parallel_size"] = gpus["visible_count"]  # TGI shards over every visible GPU
            launch["sources"]["tensor_parallel_size"] = "every visible GPU (no --num-shard)"
        installed = installed_facts(launch, model["shape"], gpus, bool(config.get("torch_probe")), ctx.remaining())
        model["context_judged"], model["context_not_judged_because"] = _context_judged(launch, model["shape"], installed["engine"]["version"])
        return {
            "launch": launch,
            "model": model,
            "installed": installed,
            "gpus": gpus,
            "requirements": requirement_facts(launch, model["shape"], installed["engine"]["version"]),
            "fit": fit_facts(launch, model["shape"], model["weights"], gpus),
        }


def _launch_input(config: Mapping[str, Any], ctx: ProviderContext) -> tuple[list[str], str | None, dict[str, str], Path]:
    """The argv to judge, where it came from, the engine's environment and the directory a
    relative model path is relative to."""
    if ctx.command:
        return list(ctx.command), "command", dict(ctx.environ), Path.cwd()
    command = config.get("command")
    environ = {**ctx.environ, **(config.get("env") or {})}
    if isinstance(command, str):
        try:
            return shlex.split(command), "config", environ, ctx.base_dir
        except ValueError as exc:
            raise ProviderError(f"providers.serving.command is not a shell command line: {exc}") from None
    if isinstance(command, list):
        return list(command), "config", environ, ctx.base_dir
    return [], None, environ, ctx.base_dir


def _context_judged(launch: Mapping[str, Any], shape: Mapping[str, Any], engine_version: str | None) -> tuple[bool, str | None]:
    """Whether the derived context (``model.shape.derived_context``, vLLM 0.34's derivation) is
    the one this engine will enforce. Without rope scaling, or with Llama 3's (never
    multiplied), every engine agrees; other rope types (yarn, dynamic, longrope …) were
    multiplied differently across releases (vLLM 0.8 multiplied YaRN's factor, 0.34 does not)
    and by SGLang, so they are judged only against an installed vLLM of `CONTEXT_DERIVED_BY` or
    later."""
    rope = (shape.get("rope_scaling") or {}).get("type")
    if rope in (None, "llama3", "default"):
        return True, None
    if launch.get("engine") == "vllm" and engine_version is not None:
        try:
            if versions.compare(engine_version, CONTEXT_DERIVED_BY) >= 0:
                return True, None
        except EvaluationError:
            pass
    return False, f"rope scaling {rope}: the context it allows depends on the engine and its version"


def _multi_node(launch: Mapping[str, Any]) -> bool:
    """Whether the launch spans nodes (Ray, --nnodes, a data-parallel head address): its GPUs
    are then not all in this process's view, and the GPU count is not judged here."""
    return bool(set(launch.get("flags_given") or ()) & MULTI_NODE_FLAGS)


def _reader(base: Path):
    """``read_file`` for the launch parser: a ``--config FILE`` relative to where the engine runs."""

    def read(name: str) -> str | None:
        path = Path(name) if Path(name).is_absolute() else base / name
        try:  # a FIFO or device named there is refused, never waited on
            return read_bounded(path, MAX_CONFIG_FILE_BYTES).decode("utf-8", "replace")
        except (OSError, InputRefused):
            return None

    return read


def _model_facts(launch: Mapping[str, Any], location) -> dict[str, Any]:
    path = location.path
    directory = path if path is not None and path.is_dir() else None
    config = _json_or_none(directory / "config.json") if directory else None
    tokenizer_config = _json_or_none(directory / "tokenizer_config.json") if directory else None
    weights = _weights(path)
    return {
        "given": launch.get("model"),
        "located": location.located,
        "looks_local": location.looks_local,
        "present": path is not None,
        "path": str(path) if path is not None else None,
        "shape": model_shape(config, tokenizer_config),
        "weights": weights,
        "chat_template": _has_chat_template(directory, tokenizer_config),
    }


def _weights(path: Path | None) -> dict[str, Any]:
    """`weight_facts` of a model directory; a single GGUF file (llama.cpp's ``-m``) is its own
    weights; no model, no weights."""
    if path is not None and path.is_dir():
        return weight_facts(path)
    facts = weight_facts(Path(os.devnull))  # the empty shape of the facts
    if path is not None and path.is_file() and path.suffix == ".gguf":
        facts.update(formats=["gguf"], weight_bytes=path.stat().st_size, files=1, complete=True)
    return facts


def _json_or_none(path: Path) -> dict[str, Any] | None:
    try:
        return read_json(path)
    except ProviderError:
        return None


def _has_chat_template(directory: Path | None, tokenizer_config: dict[str, Any] | None) -> bool | None:
    if directory is None:
        return None
    if (directory / "chat_template.jinja").is_file() or (directory / "chat_template.json").is_file():
        return True
    if tokenizer_config is None:
        return None
    return bool(tokenizer_config.get("chat_template"))


def _nvml_facts(ctx: ProviderContext) -> dict[str, Any]:
    """The ``nvml`` provider's facts, gathered here too: the fit needs the GPUs whether or not
    a rule reads ``nvml`` itself."""
    from wfgy_rules.providers.gpu.nvml import NvmlProvider

    return NvmlProvider().collect({}, ctx)
