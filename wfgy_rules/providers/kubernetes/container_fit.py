"""Will a serving container's launch fit its pod? GPUs, /dev/shm and the model, from the spec.

For each container whose launch was parsed (vLLM, SGLang, TGI, llama.cpp's server: the
``serving.launch`` of `containers.container_facts`), ``fit`` says:

* **GPUs**: the launch needs tensor × pipeline parallel devices (`wfgy_rules.providers.serving.fit`
  counts them: ``gpus_used``); the pod gives the container its accelerator limit
  (``nvidia.com/gpu`` and MIG slices, ``amd.com/gpu``, ``google.com/tpu``), times the group
  size of a LeaderWorkerSet, whose leader and workers serve one launch together. Not judged
  (``gpus_judged: false``, with the reason) for a container that requests no accelerator or
  one counted otherwise (Neuron cores, Gaudi), for Ray (the serving processes spread over the
  worker groups), a KServe component with a ``workerSpec``, and a launch that spans nodes
  (``--nnodes``, ``--distributed-executor-backend``, …) or whose command also starts a Ray
  node (``ray start``, vLLM's multi-node-serving.sh) outside a LeaderWorkerSet. TGI without
  ``--num-shard`` shards over every GPU it gets.
* **/dev/shm**: tensor parallel > 1 on NVIDIA or AMD GPUs exchanges activations through
  shared memory (NCCL/RCCL); the container's default /dev/shm is 64 MiB, so it needs a volume
  mounted at ``/dev/shm`` (an ``emptyDir`` with ``medium: Memory``, usually) or ``hostIPC: true``.
* **the model**: when the config names a model directory (``providers.serving.model_dir``,
  else ``providers.runtime.model_dir``), its shape (`wfgy_rules.providers.model.shape`) is the
  model every serving container serves, except one whose launch names a hub id other than
  the directory's ``config.json`` ``_name_or_path``: ``model_applies`` says which, and
  ``tensor_parallel_sizes`` lists the sizes that split its heads evenly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.model.model_files import read_json
from wfgy_rules.providers.model.shape import model_shape
from wfgy_rules.providers.serving.fit import fit_facts
from wfgy_rules.providers.serving.model_location import locate_model
from wfgy_rules.providers.serving.provider import MULTI_NODE_FLAGS

SHM = "/dev/shm"
SHM_DEVICES = re.compile(r"^(?:nvidia\.com/(?:gpu|mig-.+)|amd\.com/gpu)$")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def model_facts(ctx: ProviderContext) -> dict[str, Any]:
    """``kubernetes.model``: the model directory the config names (``serving.model_dir``, else
    ``runtime.model_dir``), its shape, and its ``config.json`` ``_name_or_path``."""
    configured = [f"{p}.model_dir" for p in ("serving", "runtime") if _mapping(ctx.settings.get(p)).get("model_dir")]
    location = locate_model(None, ctx.base_dir, ctx.settings, {}, ctx.base_dir)
    absent = {"present": False, "located": None, "path": None, "name_or_path": None, "shape": model_shape(None)}
    if not configured:
        return {**absent, "absent_because": "no model directory is configured (providers.serving.model_dir or providers.runtime.model_dir)"}
    if location.path is None or not location.path.is_dir():
        return {**absent, "absent_because": f"providers.{configured[0]} is not a directory here"}
    try:
        config = read_json(location.path / "config.json")
        tokenizer = read_json(location.path / "tokenizer_config.json")
    except ProviderError as exc:
        return {**absent, "absent_because": str(exc)}
    if config is None:
        return {**absent, "absent_because": f"providers.{location.located} has no config.json"}
    named = config.get("_name_or_path")
    return {"present": True, "located": location.located, "path": str(_mapping(ctx.settings.get(location.located.split(".")[0])).get("model_dir")),
            "name_or_path": named if isinstance(named, str) else None, "shape": model_shape(config, tokenizer), "absent_because": None}


def container_fit(workload: Mapping[str, Any], container: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any] | None:
    """``fit`` of one serving container (see the module docstring); None without a parsed launch."""
    serving = container.get("serving") or {}
    launch = serving.get("launch")
    if not launch:
        return None
    accelerators = container["accelerators"]
    tensor = launch.get("tensor_parallel_size")
    tensor_from = "the launch"
    if tensor is None and launch.get("engine") == "tgi" and accelerators["count"]:
        tensor, tensor_from = accelerators["count"], "every GPU it gets (TGI without --num-shard)"
    shape = model.get("shape") or {}
    sized = fit_facts({**launch, "tensor_parallel_size": tensor}, shape, {}, {})
    available, available_from, not_judged = _gpus(workload, container, launch)
    shm_from = _shm(workload, container)
    applies, not_applied = _model_applies(model, launch)
    return {
        "tensor_parallel_size": tensor,
        "tensor_parallel_from": tensor_from if tensor is not None else None,
        "pipeline_parallel_size": launch.get("pipeline_parallel_size") or 1,
        "gpus_needed": sized["gpus_used"] if tensor is not None else None,
        "gpus_available": available,
        "gpus_from": available_from,
        "gpus_judged": not_judged is None and tensor is not None,
        "gpus_not_judged_because": not_judged if tensor is not None else "the tensor parallel size is not known",
        "dev_shm": shm_from is not None,
        "dev_shm_from": shm_from,
        "shm_judged": any(SHM_DEVICES.match(r) for r in accelerators["resources"]),
        "model_applies": applies,
        "model_not_applied_because": not_applied,
        "tensor_parallel_sizes": sized["tensor_parallel_sizes"] if applies else [],
        "context": shape.get("derived_context") if applies else None,
        "context_from": shape.get("derived_context_from") if applies else None,
    }


def _gpus(workload: Mapping[str, Any], container: Mapping[str, Any], launch: Mapping[str, Any]) -> tuple[int | None, str | None, str | None]:
    """(devices the launch gets, how that was counted, why not judged)."""
    accelerators = container["accelerators"]
    if not accelerators["counted"]:
        return None, None, f"it requests {', '.join(accelerators['resources'])}, whose ranks are not one per device"
    if not accelerators["count"]:
        return None, None, "it requests no accelerator (k8s.gpu-requested judges that against the model card)"
    if workload["multi_node"]:
        return None, None, f"{workload['kind']} spreads its serving processes over pods the spec does not count"
    size = workload["group_size"]
    spans = sorted(set(launch.get("flags_given") or ()) & MULTI_NODE_FLAGS)
    if spans and size == 1:
        return None, None, f"the launch spans nodes ({', '.join(spans)}) outside a LeaderWorkerSet group"
    if container.get("ray_node") and size == 1:
        return None, None, "the command also starts a Ray node: the launch may span the Ray cluster's pods"
    resources = " + ".join(accelerators["resources"])
    counted = f"{resources} limit {accelerators['count']}" + (f" × group size {size}" if size > 1 else "")
    return accelerators["count"] * size, counted, None


def _shm(workload: Mapping[str, Any], container: Mapping[str, Any]) -> str | None:
    """How the container gets a /dev/shm larger than the default, or None."""
    mounted = next((m for m in container["volume_mounts"] if str(m.get("mount_path") or "").rstrip("/") == SHM), None)
    if mounted is not None:
        volume = next((v for v in workload["volumes"] if v["name"] == mounted["volume"]), None)
        kind = volume["type"] if volume else "an undeclared volume"
        medium = f" medium {volume['medium']}" if volume and volume.get("medium") else ""
        return f"{kind}{medium} volume {mounted['volume']} at {SHM}"
    if workload["host_ipc"]:
        return "hostIPC: true (the node's /dev/shm)"
    if workload["dev_shm_implied"]:
        return f"the controller's default template mounts a memory volume at {SHM}"
    return None


def _model_applies(model: Mapping[str, Any], launch: Mapping[str, Any]) -> tuple[bool, str | None]:
    if not model.get("present"):
        return False, model.get("absent_because") or "no model directory is configured"
    if launch.get("engine") not in ("vllm", "sglang", "tgi"):
        return False, f"{launch.get('engine')} is not judged against the model's shape"
    given = launch.get("model") if "model" in (launch.get("explicit") or []) else None
    named = model.get("name_or_path")
    if isinstance(given, str) and HUB_ID.match(given) and isinstance(named, str) and HUB_ID.match(named) and given.lower() != named.lower():
        return False, f"the launch serves {given}; the model directory holds {named}"
    return True, None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
