"""Agreement with reality: the gate's verdict and KV estimate beside what the engines printed.

``tests/corpus/serving/tracker_reports.yaml`` holds launches from the engines' issue trackers
with the number of KV-cache tokens vLLM (or SGLang) printed; ``deployment_guides.yaml`` the
launches of the engines' own deployment guides. Each is judged by the real ``serving-fit``
pack over the facts the ``serving`` provider would gather for it (the launch parsed from its
flags, the model's shape from its config.json, its weights, its GPUs): every launch that
booted, and every guide's launch, must pass (no false abort); the README's table of
estimates is this module's output (``WFGY_PRINT_TRACKER_TABLE=1 pytest … -s`` prints it).
"""

from __future__ import annotations

import os

import pytest
import yaml

from tests.helpers import REPO
from tests.sparse_checkpoints import llama_tensors, tensor_bytes
from wfgy_rules.model import Bundle, Status
from wfgy_rules.policy.loader import load_policies
from wfgy_rules.providers.model.shape import model_shape
from wfgy_rules.providers.serving.capabilities import requirement_facts
from wfgy_rules.providers.serving.fit import fit_facts
from wfgy_rules.providers.serving.gpus import visible_gpus
from wfgy_rules.providers.serving.launch import parse_launch
from wfgy_rules.run.engine import evaluate

CORPUS = REPO / "tests" / "corpus" / "serving"
REPORTS = yaml.safe_load((CORPUS / "tracker_reports.yaml").read_text())
GUIDES = yaml.safe_load((CORPUS / "deployment_guides.yaml").read_text())
RULES = [r for r in load_policies(["builtin:serving-fit"], REPO).rules]
TABLE_START, TABLE_END = "<!-- tracker-table: start -->", "<!-- tracker-table: end -->"
# The vLLM releases these reports ran (all before 0.34) left gpu_memory_utilization at 0.9.
REPORTED_DEFAULT_UTILIZATION = 0.9


def argv(entry: dict) -> list[str]:
    flags = entry["flags"]
    if entry["engine"] == "sglang":
        words = ["python3", "-m", "sglang.launch_server", "--model-path", entry["model"], "--tp", str(flags.get("tensor_parallel_size") or 1)]
        if flags.get("mem_fraction_static"):
            words += ["--mem-fraction-static", str(flags["mem_fraction_static"])]
        return words
    words = ["vllm", "serve", entry["model"], "--tensor-parallel-size", str(flags.get("tensor_parallel_size") or 1),
             "--gpu-memory-utilization", str(flags.get("gpu_memory_utilization") or REPORTED_DEFAULT_UTILIZATION)]
    for fact, flag in (("max_model_len", "--max-model-len"), ("dtype", "--dtype"), ("quantization", "--quantization"),
                       ("kv_cache_dtype", "--kv-cache-dtype")):
        if flags.get(fact) not in (None, "auto"):
            words += [flag, str(flags[fact])]
    return words


def weights(entry: dict) -> tuple[int | None, str]:
    """The checkpoint's bytes: as published, else summed over a dense Llama-style model's tensors;
    unknown for mixtures of experts and quantized checkpoints (their tensors are not Llama's)."""
    if entry.get("weight_bytes"):
        return entry["weight_bytes"], "published"
    config, flags = entry["config"], entry["flags"]
    moe = any("expert" in key for key in config)
    quantized = flags.get("quantization") or any(q in entry["model"].lower() for q in ("awq", "gptq", "fp8", "bnb", "int4", "quantize"))
    if moe or quantized or not config.get("intermediate_size"):
        return None, "unknown"
    return sum(tensor_bytes(*spec) for spec in llama_tensors(config).values()), "estimated"


def judged(entry: dict) -> tuple[dict, dict[str, Status]]:
    """The ``serving`` facts of the launch and each fit rule's status over them."""
    launch = {"source": "config", **parse_launch(argv(entry), {}), "multi_node": False}
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", **entry["config"]}
    shape = model_shape(config)
    weight_bytes, _ = weights(entry)
    gpu = entry["gpu"]
    nvml = {"available": True, "devices": [{"index": i, "name": gpu["name"], "memory_total_mib": gpu["memory_total_mib"],
                                            "compute_capability": "8.0"} for i in range(gpu["count"])]}
    gpus = visible_gpus(nvml, {})
    stored = {"has_config": True, "formats": ["safetensors"], "weight_bytes": weight_bytes, "complete": True, "problems": [],
              "adapter_only": False, "remote_code_files": []}
    facts = {
        "launch": launch,
        "model": {"given": entry["model"], "present": True, "looks_local": False, "path": entry["model"], "shape": shape,
                  "weights": stored, "chat_template": True},
        "installed": {"transformers": {"knows_model_type": None}, "engine": {"supports_model": None}, "requirements": None,
                      "torch": {"covers_visible_gpus": None}},
        "gpus": gpus,
        "requirements": requirement_facts(launch, shape, None),
        "fit": fit_facts(launch, shape, stored, gpus),
    }
    results = evaluate(RULES, Bundle({"serving": facts}, {}))
    return facts, {r.rule_id: r.status for r in results}


def verdict(statuses: dict[str, Status]) -> str:
    failed = sorted(rule for rule, status in statuses.items() if status is Status.fail and rule in ABORTING)
    return "blocks (" + ", ".join(failed) + ")" if failed else "boots"


ABORTING = {r.id for r in RULES if r.remedy.action == "abort"}
SHOWN_FLAGS = {"tensor_parallel_size": "-tp", "data_parallel_size": "-dp", "max_model_len": "--max-model-len",
               "gpu_memory_utilization": "--gpu-memory-utilization", "mem_fraction_static": "--mem-fraction-static",
               "dtype": "--dtype", "quantization": "--quantization", "kv_cache_dtype": "--kv-cache-dtype"}


@pytest.mark.parametrize("entry", [r for r in REPORTS if r["outcome"] == "booted"] + GUIDES, ids=lambda e: e["id"])
def test_a_launch_that_booted_is_never_blocked(entry):
    _, statuses = judged(entry)
    assert verdict(statuses) == "boots"


def test_the_readme_table_is_the_gates_own_output():
    table = tracker_table()
    if os.environ.get("WFGY_PRINT_TRACKER_TABLE"):
        print("\n" + table)
    readme = (REPO / "README.md").read_text()
    shown = readme.split(TABLE_START)[1].split(TABLE_END)[0].strip()
    assert shown == table


def test_where_vllm_printed_a_kv_size_the_gates_ceiling_is_never_below_it():
    """The ceiling is an upper bound (it keeps no activation reserve), so a launch is blocked
    only where vLLM surely fails: its printed capacity must never exceed the gate's."""
    for entry in REPORTS:
        facts, _ = judged(entry)
        ceiling, printed = facts["fit"]["kv_capacity_tokens"], entry.get("printed_kv_tokens")
        if entry["engine"] == "vllm" and ceiling is not None and printed:
            assert printed <= ceiling, entry["id"]


def tracker_table() -> str:
    rows = ["| report | model | GPUs | flags | engine printed (KV tokens) | gate's ceiling (KV tokens) | outcome | gate |",
            "|---|---|---|---|---|---|---|---|"]
    for entry in REPORTS:
        facts, statuses = judged(entry)
        fit, gpu = facts["fit"], entry["gpu"]
        flags = " ".join(f"{SHOWN_FLAGS[k]} {v}" for k, v in entry["flags"].items() if k in SHOWN_FLAGS and v not in (None, "auto", 1))
        _, weights_from = weights(entry)
        ceiling = f"{fit['kv_capacity_tokens']:,}" if fit["kv_capacity_tokens"] is not None else f"not judged (weights {weights_from})"
        if entry["engine"] != "vllm":
            ceiling = "not judged (vLLM's budget only)"
        printed = f"{entry['printed_kv_tokens']:,}" if entry.get("printed_kv_tokens") is not None else "—"
        rows.append(f"| [{entry['id']}]({entry['url']}) | {entry['model']} | {gpu['count']} × {gpu['name']} | {flags or '—'} | "
                    f"{printed} | {ceiling} | {entry['outcome']} | {verdict(statuses)} |")
    return "\n".join(rows)
