"""``nvml``: the GPU driver and devices as NVML reports them (through ``nvidia-ml-py``).

Config: none (``providers: {nvml: {}}``); the schema is an empty object.

Facts (``nvml.*``) on a GPU host::

    available: true
    error: null
    error_kind: null
    driver_version: "535.104.05"
    cuda_driver_version: "12.2"        # the newest CUDA this driver supports
    device_count: 1
    devices:
      - index: 0
        name: NVIDIA H100 80GB HBM3
        uuid: GPU-5f3c…
        memory_total_mib: 81559
        compute_capability: "9.0"
        mig_mode: {current: false, pending: false}   # null when the GPU has no MIG
    max_memory_total_mib: 81559         # null without devices
    max_memory_total_gib: 79.65         # the same in GiB (2 decimals), for min_gpu_memory_gib rules
    nvidia_visible_devices: all         # from the environment, null when unset
    cuda_visible_devices: null

On a host or container without NVIDIA (absence is a fact, not an error)::

    available: false
    error: NVML Shared Library Not Found
    error_kind: library_not_found      # | driver_not_injected | driver_not_loaded | no_permission
                                       # | not_supported | function_not_found
                                       # | lib_rm_version_mismatch | unknown
    driver_version: null
    cuda_driver_version: null
    device_count: 0
    devices: []
    max_memory_total_mib: null
    max_memory_total_gib: null

**No library is not always no GPU.** In a container whose ``NVIDIA_VISIBLE_DEVICES`` asks
the NVIDIA container runtime for GPUs (set, and not ``void``, ``none`` or empty), a missing
libnvidia-ml means the runtime did not inject the driver (no ``--gpus``, no ``runtimeClassName:
nvidia``, no NVIDIA Container Toolkit on the node), not that the service can do without a GPU:
``error_kind`` is ``driver_not_injected`` and ``error`` says so (NVML's text at its end), so a
rule can refuse to start instead of hiding GPUs the service needs. The nvidia/cuda base images
set ``NVIDIA_VISIBLE_DEVICES=all`` in their environment: a container of such an image meant to
run without GPUs unsets it or sets it to ``void``.

``error`` is NVML's own text (but for ``driver_not_injected``). A field one GPU cannot report (NVML "Not Supported", or a
driver older than the bindings) is null; any other NVML failure after the driver answered
makes ``available`` false, keeping what was already known. ``cuda_driver_version`` comes
from ``nvmlSystemGetCudaDriverVersion_v2`` (falling back to the v1 call): 12020 -> "12.2".
A missing ``pynvml`` module (a broken install: ``nvidia-ml-py`` is a dependency) raises
`ProviderError`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.base import ProviderContext

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "nvml provider",
    "description": "GPU driver and devices from NVML; takes no options.",
    "type": "object",
    "additionalProperties": False,
    "properties": {},
}

# NVML return-code constant -> error_kind; any other code is "unknown".
ERROR_KINDS = {
    "NVML_ERROR_LIBRARY_NOT_FOUND": "library_not_found",
    "NVML_ERROR_DRIVER_NOT_LOADED": "driver_not_loaded",
    "NVML_ERROR_NO_PERMISSION": "no_permission",
    "NVML_ERROR_NOT_SUPPORTED": "not_supported",
    "NVML_ERROR_FUNCTION_NOT_FOUND": "function_not_found",
    "NVML_ERROR_LIB_RM_VERSION_MISMATCH": "lib_rm_version_mismatch",
}
# NVIDIA_VISIBLE_DEVICES values that ask the container runtime for no GPU (NVIDIA Container Toolkit docs).
NO_GPUS_REQUESTED = frozenset({"", "void", "none"})
# Kinds that mean "this GPU or driver cannot answer this question": the field is null.
UNANSWERABLE = frozenset({"not_supported", "function_not_found"})
CUDA_VERSION_CALLS = ("nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion")
MIB = 1024 * 1024


class NvmlProvider:
    """Facts about the NVIDIA driver and GPUs (see the module docstring)."""

    config_schema = CONFIG_SCHEMA

    def collect(self, config: Mapping[str, Any], ctx: ProviderContext) -> dict[str, Any]:
        nvml = _import_pynvml()
        facts = _absent(ctx.environ)
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            return {**facts, **_failure(nvml, exc), **_not_injected(nvml, exc, ctx.environ)}
        try:
            facts.update(_system(nvml))
            facts.update(_devices(nvml), available=True)
        except nvml.NVMLError as exc:
            facts.update(_failure(nvml, exc))
        finally:
            _shutdown(nvml)
        return facts


def error_kind(nvml: ModuleType, exc: Exception) -> str:
    """The ``error_kind`` of an NVML exception, from its return code."""
    code = getattr(exc, "value", None)
    kinds = {getattr(nvml, name, None): kind for name, kind in ERROR_KINDS.items()}
    return kinds.get(code, "unknown") if code is not None else "unknown"


def _import_pynvml() -> ModuleType:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # the deprecated `pynvml` shim warns
            import pynvml
    except ImportError as exc:
        raise ProviderError(f"cannot import pynvml (install nvidia-ml-py): {exc}") from None
    return pynvml


def _absent(environ: Mapping[str, str]) -> dict[str, Any]:
    return {
        "available": False,
        "error": None,
        "error_kind": None,
        "driver_version": None,
        "cuda_driver_version": None,
        "device_count": 0,
        "devices": [],
        "max_memory_total_mib": None,
        "max_memory_total_gib": None,
        "nvidia_visible_devices": environ.get("NVIDIA_VISIBLE_DEVICES"),
        "cuda_visible_devices": environ.get("CUDA_VISIBLE_DEVICES"),
    }


def _failure(nvml: ModuleType, exc: Exception) -> dict[str, Any]:
    return {
        "available": False,
        "error": str(exc) or type(exc).__name__,
        "error_kind": error_kind(nvml, exc),
        "device_count": 0,
        "devices": [],
        "max_memory_total_mib": None,
        "max_memory_total_gib": None,
    }


def _not_injected(nvml: ModuleType, exc: Exception, environ: Mapping[str, str]) -> dict[str, Any]:
    """``error``/``error_kind`` for a library NVIDIA_VISIBLE_DEVICES says should be there; else ``{}``."""
    requested = environ.get("NVIDIA_VISIBLE_DEVICES")
    if error_kind(nvml, exc) != "library_not_found" or requested is None or requested.strip().lower() in NO_GPUS_REQUESTED:
        return {}
    return {
        "error_kind": "driver_not_injected",
        "error": (f"NVIDIA_VISIBLE_DEVICES={requested} asks the NVIDIA container runtime for GPUs, but libnvidia-ml is not "
                  "in the container: the driver was not injected (run with --gpus or runtimeClassName: nvidia, on a node "
                  f"with the NVIDIA Container Toolkit; set NVIDIA_VISIBLE_DEVICES=void for a CPU-only container) ({exc})"),
    }


def _system(nvml: ModuleType) -> dict[str, Any]:
    return {
        "driver_version": _text(nvml.nvmlSystemGetDriverVersion()),
        "cuda_driver_version": _cuda_driver_version(nvml),
    }


def _cuda_driver_version(nvml: ModuleType) -> str | None:
    for name in CUDA_VERSION_CALLS:
        call = getattr(nvml, name, None)
        if call is None:  # bindings older than the call
            continue
        version = _answer(nvml, call)
        if version is not None:
            return f"{version // 1000}.{(version % 1000) // 10}"
    return None


def _devices(nvml: ModuleType) -> dict[str, Any]:
    devices = [_device(nvml, index) for index in range(nvml.nvmlDeviceGetCount())]
    memory = [d["memory_total_mib"] for d in devices if d["memory_total_mib"] is not None]
    return {
        "device_count": len(devices),
        "devices": devices,
        "max_memory_total_mib": max(memory, default=None),
        "max_memory_total_gib": round(max(memory) / 1024, 2) if memory else None,
    }


def _device(nvml: ModuleType, index: int) -> dict[str, Any]:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = _answer(nvml, nvml.nvmlDeviceGetMemoryInfo, handle)
    capability = _answer(nvml, nvml.nvmlDeviceGetCudaComputeCapability, handle)
    mig = _answer(nvml, nvml.nvmlDeviceGetMigMode, handle)
    return {
        "index": index,
        "name": _text(_answer(nvml, nvml.nvmlDeviceGetName, handle)),
        "uuid": _text(_answer(nvml, nvml.nvmlDeviceGetUUID, handle)),
        "memory_total_mib": int(memory.total) // MIB if memory is not None else None,
        "compute_capability": f"{capability[0]}.{capability[1]}" if capability else None,
        "mig_mode": {"current": bool(mig[0]), "pending": bool(mig[1])} if mig else None,
    }


def _answer(nvml: ModuleType, call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)``, or None when the GPU or driver cannot answer that question."""
    try:
        return call(*args)
    except nvml.NVMLError as exc:
        if error_kind(nvml, exc) in UNANSWERABLE:
            return None
        raise


def _text(value: str | bytes | None) -> str | None:
    """Old bindings return ``bytes``; current ones ``str``."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _shutdown(nvml: ModuleType) -> None:
    try:
        nvml.nvmlShutdown()
    except nvml.NVMLError:
        pass  # the facts are gathered; a failed shutdown changes none of them
