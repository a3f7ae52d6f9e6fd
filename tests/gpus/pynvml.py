"""A stand-in for ``pynvml`` (nvidia-ml-py) in CLI tests: put ``tests/gpus`` first on
``PYTHONPATH`` and set ``FAKE_GPUS``; the CLI then sees those GPUs through the real bindings.

The real module is loaded from the next ``pynvml.py`` on ``sys.path`` (as ``real``) and its
names copied here, so every class, constant and structure (``NVMLError`` and its subclasses,
return codes, ``c_nvmlMemory_t``) is the real one; only the calls that would reach
``libnvidia-ml`` are replaced. ``tests/providers/serving/test_fake_gpus.py`` checks each replaced name exists in
the real bindings.

``FAKE_GPUS``: ``none`` (the library is missing, as on a CPU host), ``driver-not-loaded``, or
GPU models joined by commas, each optionally ``*N``: ``A10G``, ``T4*2``, ``A100-80GB*4``.
``FAKE_GPU_DRIVER`` (default ``550.54.15``) and ``FAKE_GPU_CUDA`` (NVML's integer, default
``12040``) set the driver.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

_HERE = Path(__file__).resolve()
_PATH = next(p for p in (Path(entry or ".") / "pynvml.py" for entry in sys.path) if p.is_file() and p.resolve() != _HERE)
_SPEC = importlib.util.spec_from_file_location("_real_pynvml", _PATH)
real = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = real  # the bindings look themselves up there
_SPEC.loader.exec_module(real)
globals().update({name: value for name, value in vars(real).items() if not name.startswith("__")})  # the real names
NVMLError = real.NVMLError

MIB = 1024 * 1024
# NVML's memory total and compute capability of the reference GPUs (DOMAIN.md, "Reference GPUs").
MODELS = {
    "T4": ("Tesla T4", 15360, (7, 5)),
    "V100": ("Tesla V100-SXM2-32GB", 32768, (7, 0)),
    "A10G": ("NVIDIA A10G", 23028, (8, 6)),
    "L4": ("NVIDIA L4", 23034, (8, 9)),
    "A100-80GB": ("NVIDIA A100-SXM4-80GB", 81920, (8, 0)),
    "H100": ("NVIDIA H100 80GB HBM3", 81559, (9, 0)),
    "RTX5090": ("NVIDIA GeForce RTX 5090", 32607, (12, 0)),
}


def _gpus() -> list[tuple[str, int, tuple[int, int]]]:
    gpus = []
    for part in filter(None, os.environ.get("FAKE_GPUS", "").split(",")):
        model, _, count = part.strip().partition("*")
        gpus += [MODELS[model]] * int(count or 1)
    return gpus


def nvmlInit():  # noqa: N802 (the bindings' names)
    mode = os.environ.get("FAKE_GPUS", "none")
    if mode == "none":
        raise NVMLError(real.NVML_ERROR_LIBRARY_NOT_FOUND)
    if mode == "driver-not-loaded":
        raise NVMLError(real.NVML_ERROR_DRIVER_NOT_LOADED)


def nvmlShutdown():  # noqa: N802
    pass


def nvmlSystemGetDriverVersion():  # noqa: N802
    return os.environ.get("FAKE_GPU_DRIVER", "550.54.15")


def nvmlSystemGetCudaDriverVersion_v2():  # noqa: N802
    return int(os.environ.get("FAKE_GPU_CUDA", "12040"))


nvmlSystemGetCudaDriverVersion = nvmlSystemGetCudaDriverVersion_v2


def nvmlDeviceGetCount():  # noqa: N802
    return len(_gpus())


def nvmlDeviceGetHandleByIndex(index):  # noqa: N802
    if not 0 <= index < len(_gpus()):
        raise NVMLError(real.NVML_ERROR_INVALID_ARGUMENT)
    return index


def nvmlDeviceGetName(handle):  # noqa: N802
    return _gpus()[handle][0]


def nvmlDeviceGetUUID(handle):  # noqa: N802
    return f"GPU-00000000-0000-4000-8000-{handle:012d}"


def nvmlDeviceGetMemoryInfo(handle):  # noqa: N802
    info = real.c_nvmlMemory_t()
    info.total = _gpus()[handle][1] * MIB
    return info


def nvmlDeviceGetCudaComputeCapability(handle):  # noqa: N802
    return _gpus()[handle][2]


def nvmlDeviceGetMigMode(handle):  # noqa: N802
    raise NVMLError(real.NVML_ERROR_NOT_SUPPORTED)


REPLACED = (
    "nvmlInit", "nvmlShutdown", "nvmlSystemGetDriverVersion", "nvmlSystemGetCudaDriverVersion_v2",
    "nvmlSystemGetCudaDriverVersion", "nvmlDeviceGetCount", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetName",
    "nvmlDeviceGetUUID", "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetCudaComputeCapability", "nvmlDeviceGetMigMode",
)
