"""The GPUs the engine will see: NVML's devices, narrowed as CUDA narrows them.

NVML lists every GPU in the container; CUDA shows a process only those that
``CUDA_VISIBLE_DEVICES`` names (indices or ``GPU-…`` UUID prefixes, in that order), none when
it is empty or starts with an entry that names no GPU, and stops at the first entry that names
none (CUDA's own rule: ``0,1,7`` on a two-GPU node is ``0,1``). ``NVIDIA_VISIBLE_DEVICES`` is
applied by the container runtime before NVML ever answers, so it needs no narrowing here.

``visible_gpus(nvml_facts, environ)`` gives ``serving.gpus``::

    available: true                 # NVML answered
    error: null                     # NVML's text when it did not ("NVML Shared Library Not Found")
    error_kind: null                # library_not_found | driver_not_loaded | …
    driver_version: "550.54.15"
    cuda_driver_version: "12.4"
    cuda_visible_devices: "0,1"     # null when unset
    visible_count: 2
    devices: [{index: 0, name: NVIDIA A10G, memory_total_mib: 23028, compute_capability: "8.6"}, …]
    min_memory_mib: 23028           # over the visible devices; null without any
    min_compute_capability: "8.6"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfgy_rules.policy import versions


def visible_gpus(nvml: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``serving.gpus`` from the ``nvml`` provider's facts and the engine's environment."""
    mask = environ.get("CUDA_VISIBLE_DEVICES")
    devices = [_device(d) for d in nvml.get("devices") or []]
    visible = _narrowed(devices, mask) if mask is not None else devices
    capabilities = [d["compute_capability"] for d in visible if d["compute_capability"]]
    memories = [d["memory_total_mib"] for d in visible if isinstance(d["memory_total_mib"], int)]
    return {
        "available": bool(nvml.get("available")),
        "error": nvml.get("error"),
        "error_kind": nvml.get("error_kind"),
        "driver_version": nvml.get("driver_version"),
        "cuda_driver_version": nvml.get("cuda_driver_version"),
        "cuda_visible_devices": mask,
        "visible_count": len(visible),
        "devices": visible,
        "min_memory_mib": min(memories, default=None),
        "min_compute_capability": min(capabilities, key=versions.parse, default=None),
    }


def _device(device: Mapping[str, Any]) -> dict[str, Any]:
    return {key: device.get(key) for key in ("index", "name", "uuid", "memory_total_mib", "compute_capability")}


def _narrowed(devices: list[dict[str, Any]], mask: str) -> list[dict[str, Any]]:
    visible: list[dict[str, Any]] = []
    for entry in (part.strip() for part in mask.split(",")):
        match = _named(devices, entry)
        if match is None or match in visible:
            break
        visible.append(match)
    return visible


def _named(devices: list[dict[str, Any]], entry: str) -> dict[str, Any] | None:
    if entry.isdigit():
        return next((d for d in devices if d["index"] == int(entry)), None)
    if entry.startswith("GPU-") or entry.startswith("MIG-"):
        matches = [d for d in devices if isinstance(d["uuid"], str) and d["uuid"].startswith(entry)]
        return matches[0] if len(matches) == 1 else None
    return None
