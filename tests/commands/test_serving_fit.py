"""Will it boot? Each way a serving engine collapses at boot, as a pair through the CLI:
``preflight -- <engine>`` blocks the collapse (the engine never starts) and starts its
healthy twin (the same launch with the one thing fixed).

The engine is a script on ``PATH`` that prints ``ENGINE STARTED`` and its arguments; GPUs come
from the fake ``pynvml`` in ``tests/gpus`` (``FAKE_GPUS``); models are sparse checkpoints with
the shapes of real models (`tests.sparse_checkpoints`); an installed torch or vLLM is a
``site`` directory on ``PYTHONPATH`` holding the files the gate reads (``torch/version.py``,
a ``*.dist-info/METADATA``), never imported. The config is the plain one a team starts with.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.helpers import REPO, run_cli
from tests.sparse_checkpoints import write_checkpoint

CONFIGS = REPO / "tests" / "corpus" / "serving" / "model_configs"
PLAIN_CONFIG = "policies: [builtin]\nproviders:\n  runtime: {packages: [vllm, torch, transformers]}\n"
ENGINES = ("vllm", "text-generation-launcher", "llama-server", "python3", "python3-engine")
STARTED = "ENGINE STARTED"


def real_config(name: str) -> dict:
    return json.loads((CONFIGS / name / "config.json").read_text())


LLAMA_3_8B = real_config("llama-3-8b")
LLAMA_31_8B = real_config("llama-3.1-8b")
LLAMA_31_70B = real_config("llama-3.1-70b")
QWEN25_7B = real_config("qwen2.5-7b-instruct")


def small_llama(**changes) -> dict:
    """A 1B Llama (Llama-3.2-1B's published shape) for launches where size is not the point."""
    config = {**LLAMA_3_8B, "num_hidden_layers": 16, "hidden_size": 2048, "intermediate_size": 8192, "head_dim": 64,
              "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 8192}
    return {**config, **changes}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "wfgy.yaml").write_text(PLAIN_CONFIG)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ENGINES:
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{STARTED} $(basename "$0") $*"\necho "CUDA_VISIBLE_DEVICES=${{CUDA_VISIBLE_DEVICES-unset}}"\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "site").mkdir()
    return tmp_path


def model(project: Path, name: str, config: dict, shards: int = 1) -> Path:
    directory = project / name
    write_checkpoint(directory, config, shards=shards)
    (directory / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}"}))
    return directory


def install_torch(project: Path, version: str, cuda: str | None) -> None:
    """torch as the gate finds it: ``torch/version.py`` (read as text, never imported)."""
    package = project / "site" / "torch"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("raise ImportError('the gate must never import torch')\n")
    (package / "version.py").write_text(f"__version__ = {version!r}\ncuda = {cuda!r}\ngit_version = 'abc123'\n")
    info = project / "site" / f"torch-{version.split('+')[0]}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n")


def install_vllm(project: Path, version: str, requires: list[str], architectures: list[str]) -> None:
    """vLLM as the gate finds it: its metadata and its model registry's source (never imported)."""
    info = project / "site" / f"vllm-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", "Name: vllm", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    registry = project / "site" / "vllm" / "model_executor" / "models"
    registry.mkdir(parents=True)
    (project / "site" / "vllm" / "__init__.py").write_text("raise ImportError('the gate must never import vllm')\n")
    entries = ", ".join(f'"{a}": ("{a.lower()}", "{a}")' for a in architectures)
    (registry / "registry.py").write_text(f"_TEXT_GENERATION_MODELS = {{{entries}}}\n_VLLM_MODELS = {{**_TEXT_GENERATION_MODELS}}\n")


def preflight(project: Path, *command: str, gpus: str = "A10G", env: dict | None = None, options: tuple = ()):
    environ = {
        "PATH": f"{project / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": f"{REPO / 'tests' / 'gpus'}{os.pathsep}{project / 'site'}",
        "FAKE_GPUS": gpus,
        "HOME": str(project),  # no Hugging Face cache of the developer's
        **(env or {}),
    }
    return run_cli("preflight", *options, "--", *command, cwd=project, env=environ)


def blocked(done, rule: str, *phrases: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert STARTED not in done.stdout, "the engine was started"
    assert rule in output, output
    for phrase in phrases:
        assert phrase in output, output


def started(done) -> None:
    assert done.returncode == 0, done.stdout + done.stderr
    assert STARTED in done.stdout, done.stdout + done.stderr


# ---- KV cache and weights -----------------------------------------------------------------------

def test_llama_31_8b_on_a_24gb_gpu_without_max_model_len_is_blocked_with_a_length_that_fits(project):
    model(project, "llama31", LLAMA_31_8B)
    done = preflight(project, "vllm", "serve", "./llama31")
    blocked(done, "fit.kv-cache-fits", "max_model_len 131072 needs 16.0 GiB of KV cache",
            "The model's max seq len (131072) is larger than the maximum number of tokens", "--max-model-len")
    suggested = int(done.stderr.split("--max-model-len ")[1].split(" fits")[0])
    started(preflight(project, "vllm", "serve", "./llama31", "--max-model-len", str(suggested)))


def test_the_healthy_twin_of_the_deployment_guides_8k_context_starts(project):
    model(project, "llama31", LLAMA_31_8B)
    started(preflight(project, "vllm", "serve", "./llama31", "--max-model-len", "8192"))


def test_weights_larger_than_the_gpu_are_blocked_and_tensor_parallel_4_starts(project):
    model(project, "llama70b", LLAMA_31_70B, shards=30)
    blocked(preflight(project, "vllm", "serve", "./llama70b", "--max-model-len", "8192", gpus="A100-80GB"),
            "fit.weights-fit", "torch.OutOfMemoryError")
    started(preflight(project, "vllm", "serve", "./llama70b", "--tensor-parallel-size", "4", gpus="A100-80GB*4"))


# ---- parallelism --------------------------------------------------------------------------------

def test_tensor_parallel_8_over_28_heads_is_blocked_and_4_starts(project):
    model(project, "qwen", QWEN25_7B)
    blocked(preflight(project, "vllm", "serve", "./qwen", "-tp", "8", "--max-model-len", "8192", gpus="A10G*8"),
            "fit.heads-divisible", "Total number of attention heads (28) must be divisible by tensor parallel size (8)",
            "Sizes that divide: 1, 2, 4")
    started(preflight(project, "vllm", "serve", "./qwen", "-tp", "4", "--max-model-len", "8192", gpus="A10G*4"))


def test_tensor_parallel_above_the_visible_gpus_is_blocked(project):
    model(project, "llama3", LLAMA_3_8B)
    blocked(preflight(project, "vllm", "serve", "./llama3", "--tensor-parallel-size", "4", gpus="A10G*2"),
            "fit.gpus-for-parallelism", "needs 4 GPUs; this process sees 2")
    started(preflight(project, "vllm", "serve", "./llama3", "--tensor-parallel-size", "2", gpus="A10G*2"))


def test_cuda_visible_devices_narrows_the_gpus_the_engine_sees(project):
    model(project, "llama3", LLAMA_3_8B)
    blocked(preflight(project, "vllm", "serve", "./llama3", "-tp", "2", gpus="A10G*2", env={"CUDA_VISIBLE_DEVICES": "1"}),
            "fit.gpus-for-parallelism", "this process sees 1")


def test_tgi_num_shard_over_the_heads_is_blocked(project):
    model(project, "qwen", QWEN25_7B)
    blocked(preflight(project, "text-generation-launcher", "--model-id", "./qwen", "--num-shard", "8", gpus="A10G*8"),
            "fit.heads-divisible")
    started(preflight(project, "text-generation-launcher", "--model-id", "./qwen", "--num-shard", "4",
                      "--max-total-tokens", "8192", gpus="A10G*4"))


# ---- the GPU's capabilities ---------------------------------------------------------------------

def test_bfloat16_asked_for_on_a_t4_is_blocked_and_float16_or_auto_starts(project):
    model(project, "small", small_llama())
    blocked(preflight(project, "vllm", "serve", "./small", "--dtype", "bfloat16", gpus="T4"),
            "fit.dtype-supported", "Bfloat16 is only supported on GPUs with compute capability of at least 8.0")
    started(preflight(project, "vllm", "serve", "./small", "--dtype", "float16", gpus="T4"))
    started(preflight(project, "vllm", "serve", "./small", gpus="T4"))  # auto: vLLM falls back to float16


def test_an_awq_checkpoint_on_a_v100_is_blocked_and_runs_on_a_t4(project):
    awq = small_llama(torch_dtype="float16", quantization_config={"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True, "version": "gemm"})
    model(project, "awq", awq)
    blocked(preflight(project, "vllm", "serve", "./awq", gpus="V100"),
            "fit.quantization-supported", "The quantization method awq is not supported for the current GPU", "Minimum capability: 7.5")
    started(preflight(project, "vllm", "serve", "./awq", gpus="T4"))


def test_an_fp8_checkpoint_on_a_v100_is_blocked_and_runs_on_an_l4(project):
    fp8 = small_llama(quantization_config={"quant_method": "fp8", "activation_scheme": "dynamic", "weight_block_size": [128, 128]})
    model(project, "fp8", fp8)
    blocked(preflight(project, "vllm", "serve", "./fp8", gpus="V100"),
            "fit.quantization-supported", "The quantization method fp8 is not supported for the current GPU")
    started(preflight(project, "vllm", "serve", "./fp8", gpus="L4"))


def test_an_sglang_launch_is_judged_like_vllms(project):
    model(project, "qwen", QWEN25_7B)
    blocked(preflight(project, "python3", "-m", "sglang.launch_server", "--model-path", "./qwen", "--tp", "8", gpus="A10G*8"),
            "fit.heads-divisible", "tensor parallel size (8)")
    blocked(preflight(project, "python3", "-m", "sglang.launch_server", "--model-path", "./qwen", "--context-length", "65536"),
            "fit.context-within-model", "(65536)")
    started(preflight(project, "python3", "-m", "sglang.launch_server", "--model-path", "./qwen", "--tp", "2", gpus="A10G*2"))


def test_flash_attention_asked_for_on_a_t4_is_blocked(project):
    model(project, "small", small_llama())
    blocked(preflight(project, "vllm", "serve", "./small", "--attention-backend", "FLASH_ATTN", gpus="T4"),
            "fit.attention-backend-supported", "FlashAttention only supports Ampere GPUs or newer")
    started(preflight(project, "vllm", "serve", "./small", "--attention-backend", "FLASH_ATTN", gpus="L4"))


@pytest.mark.parametrize("gpu,torch,cuda,twin", [
    ("RTX5090", "2.4.1+cu124", "12.4", ("2.8.0+cu128", "12.8")),   # sm_120 needs a CUDA 12.8 build
    ("V100", "2.11.0+cu130", "13.0", ("2.11.0+cu126", "12.6")),    # CUDA 13 builds drop Volta
])
def test_a_torch_build_without_the_gpus_architecture_is_blocked(project, gpu, torch, cuda, twin):
    model(project, "small", small_llama())
    install_torch(project, torch, cuda)
    env = {"FAKE_GPU_CUDA": "13000", "FAKE_GPU_DRIVER": "580.82.07"}
    blocked(preflight(project, "vllm", "serve", "./small", "--dtype", "float16", gpus=gpu, env=env),
            "fit.torch-covers-gpu", "no kernel image is available for execution on the device")
    install_torch(project, *twin)
    started(preflight(project, "vllm", "serve", "./small", "--dtype", "float16", gpus=gpu, env=env))


# ---- the model's files --------------------------------------------------------------------------

def test_max_model_len_above_the_models_context_is_blocked_unless_allowed(project):
    model(project, "llama3", LLAMA_3_8B)
    blocked(preflight(project, "vllm", "serve", "./llama3", "--max-model-len", "32768"),
            "fit.context-within-model", "User-specified max_model_len (32768) is greater than the derived max_model_len (8192)")
    started(preflight(project, "vllm", "serve", "./llama3", "--max-model-len", "8192"))


def test_a_missing_shard_is_blocked(project):
    directory = model(project, "llama3", LLAMA_3_8B, shards=4)
    (directory / "model-00003-of-00004.safetensors").unlink()
    blocked(preflight(project, "vllm", "serve", "./llama3"), "fit.checkpoint-complete", "model-00003-of-00004.safetensors")


def test_a_truncated_shard_is_blocked(project):
    directory = model(project, "llama3", LLAMA_3_8B, shards=2)
    shard = directory / "model-00002-of-00002.safetensors"
    os.truncate(shard, shard.stat().st_size // 2)
    blocked(preflight(project, "vllm", "serve", "./llama3"), "fit.checkpoint-complete", "model-00002-of-00002.safetensors")


def test_a_lora_adapter_served_as_a_model_is_blocked(project):
    adapter = project / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "meta-llama/Llama-3.1-8B", "peft_type": "LORA", "r": 16}))
    (adapter / "adapter_model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    blocked(preflight(project, "vllm", "serve", "./adapter"), "fit.model-is-not-an-adapter", "--enable-lora")
    model(project, "base", small_llama())
    started(preflight(project, "vllm", "serve", "./base", "--enable-lora", "--lora-modules", "mine=./adapter"))


def test_a_directory_without_config_json_is_blocked(project):
    directory = model(project, "weights-only", small_llama())
    (directory / "config.json").unlink()
    blocked(preflight(project, "vllm", "serve", "./weights-only"), "fit.model-config-present", "config.json")


def test_a_model_path_that_is_not_mounted_is_blocked(project):
    blocked(preflight(project, "vllm", "serve", "/models/llama-3.1-8b"), "fit.model-found", "/models/llama-3.1-8b does not exist")


def test_remote_code_needs_trust_remote_code_and_its_files_are_listed(project):
    config = small_llama(model_type="wfgy_test_lm", architectures=["WfgyTestLM"],
                         auto_map={"AutoConfig": "configuration_wfgy.WfgyConfig", "AutoModelForCausalLM": "modeling_wfgy.WfgyTestLM"})
    directory = model(project, "custom", config)
    (directory / "configuration_wfgy.py").write_text("class WfgyConfig: ...\n")
    (directory / "modeling_wfgy.py").write_text("class WfgyTestLM: ...\n")
    blocked(preflight(project, "vllm", "serve", "./custom"), "fit.remote-code-trusted",
            "configuration_wfgy.py", "modeling_wfgy.py", "--trust-remote-code")
    done = preflight(project, "vllm", "serve", "./custom", "--trust-remote-code")
    started(done)
    assert "fit.remote-code-files" in done.stderr and "modeling_wfgy.py sha256:" in done.stderr


def test_a_model_type_the_installed_transformers_does_not_know_is_blocked(project):
    model(project, "future", small_llama(model_type="wfgy_future_lm", architectures=["WfgyFutureForCausalLM"]))
    blocked(preflight(project, "vllm", "serve", "./future"), "fit.model-type-known",
            "model type 'wfgy_future_lm' but transformers")


def test_an_architecture_the_installed_vllm_predates_is_blocked(project):
    model(project, "gemma", small_llama(model_type="gemma3_text", architectures=["Gemma3ForCausalLM"]))
    install_vllm(project, "0.6.3", [], ["LlamaForCausalLM"])
    done = preflight(project, "vllm", "serve", "./gemma")
    blocked(done, "fit.architecture-supported", '["Gemma3ForCausalLM"] are not supported by the installed vllm 0.6.3',
            "predates its transformers backend")
    assert "fit.model-type-known" not in [line.split()[-1] for line in done.stderr.splitlines() if "FAIL" in line]
    model(project, "llama", small_llama())
    started(preflight(project, "vllm", "serve", "./llama"))


def test_an_engine_whose_torch_pin_is_not_met_is_blocked(project):
    model(project, "small", small_llama())
    install_vllm(project, "0.34.0", ["torch==2.14.0"], ["LlamaForCausalLM"])
    install_torch(project, "2.13.0+cu126", "12.6")
    blocked(preflight(project, "vllm", "serve", "./small"), "fit.engine-requirements", "torch==2.14.0 (installed 2.13.0+cu126)")
    install_torch(project, "2.14.0+cu126", "12.6")
    started(preflight(project, "vllm", "serve", "./small"))


# ---- no GPU, and Cuda-Probe's fallback ----------------------------------------------------------

def test_vllm_without_a_gpu_is_blocked_instead_of_started_on_cpu(project):
    model(project, "small", small_llama())
    done = preflight(project, "vllm", "serve", "./small", gpus="none")
    blocked(done, "fit.gpu-visible", "Failed to infer device type")


def test_llama_cpp_without_a_gpu_starts(project):
    gguf = project / "model.gguf"
    gguf.write_bytes(b"GGUF" + b"\x00" * 60)
    started(preflight(project, "llama-server", "-m", "./model.gguf", "-c", "4096", gpus="none"))


def test_a_driver_too_old_for_the_cuda_build_aborts_vllm_and_falls_back_for_llama_cpp(project):
    model(project, "small", small_llama())
    install_torch(project, "2.4.1+cu124", "12.4")
    old_driver = {"FAKE_GPU_CUDA": "11040", "FAKE_GPU_DRIVER": "470.57.02"}
    blocked(preflight(project, "vllm", "serve", "./small", "--dtype", "float16", env=old_driver),
            "cuda.driver-supports-engine", "cannot fall back to CPU")
    gguf = project / "model.gguf"
    gguf.write_bytes(b"GGUF" + b"\x00" * 60)
    done = preflight(project, "llama-server", "-m", "./model.gguf", env=old_driver)
    started(done)
    assert "CUDA_VISIBLE_DEVICES=\n" in done.stdout  # Cuda-Probe's fallback, for an engine that can serve on CPU


# ---- what the gate leaves alone -----------------------------------------------------------------

def test_a_command_that_is_not_an_engine_is_started(project):
    done = preflight(project, "python3-engine", "--port", "8000")
    started(done)
    assert "fit." not in "".join(line for line in done.stderr.splitlines() if "FAIL" in line)


def test_a_base_model_without_a_chat_template_warns_and_starts(project):
    directory = model(project, "base", small_llama())
    (directory / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<s>"}))
    done = preflight(project, "vllm", "serve", "./base")
    started(done)
    assert "fit.chat-template" in done.stderr


def test_the_config_command_is_judged_in_ci_without_a_gpu(project):
    model(project, "qwen", QWEN25_7B)
    config = PLAIN_CONFIG + "  serving: {command: vllm serve ./qwen -tp 8 --max-model-len 65536}\n"
    (project / "wfgy.yaml").write_text(config)
    done = run_cli("eval", "--stage", "ci", "--format", "json", cwd=project)
    results = {r["rule_id"]: r["status"] for r in json.loads(done.stdout)["results"]}
    assert done.returncode == 1, done.stderr
    assert results["fit.heads-divisible"] == "fail"
    assert results["fit.context-within-model"] == "fail"
    assert "fit.kv-cache-fits" not in results  # deploy: needs the GPU


def test_no_secret_flag_value_reaches_the_report(project):
    model(project, "llama31", LLAMA_31_8B)
    canary = "sk-wfgy-canary-0123456789abcdef"
    done = preflight(project, "vllm", "serve", "./llama31", "--api-key", canary, options=("--format", "json"))
    assert canary not in done.stdout + done.stderr
    facts = run_cli("facts", "--provider", "serving", cwd=project,
                    env={"PYTHONPATH": str(REPO / "tests" / "gpus"), "FAKE_GPUS": "A10G"})
    assert canary not in facts.stdout + facts.stderr


def test_facts_shows_what_the_gate_reads_of_a_launch_without_starting_it(project):
    model(project, "llama31", LLAMA_31_8B)
    environ = {"PATH": f"{project / 'bin'}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO / "tests" / "gpus"),
               "FAKE_GPUS": "A10G", "HOME": str(project)}
    done = run_cli("facts", "--provider", "serving", "--", "vllm", "serve", "./llama31", "-tp", "1", cwd=project, env=environ)
    assert done.returncode == 0, done.stderr
    serving = json.loads(done.stdout)["serving"]
    assert STARTED not in done.stdout
    assert (serving["launch"]["source"], serving["launch"]["engine"], serving["model"]["located"]) == ("command", "vllm", "launch")
    assert serving["fit"]["kv_bytes_per_token"] == 131072 and serving["gpus"]["visible_count"] == 1
