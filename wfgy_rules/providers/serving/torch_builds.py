"""Which GPUs a torch build can run on: PyTorch's published arch lists, CUDA's compatibility rules, a probe.

`torch_arches` looks a build up in `torch_arches.yaml` (beside this file): the
``TORCH_CUDA_ARCH_LIST`` of PyTorch's published Linux x86_64 wheels per release and CUDA build,
each row with its source. A build the table does not hold (a nightly, a source or vendor build,
``+cpu``, another platform) gives ``arch_list: null``; `probe_torch_arches` asks the installed
torch itself, in a subprocess (opt-in: importing torch takes seconds). `covers` decides, as the
CUDA driver does, whether a GPU can run any of a build's code::

    torch_arches("2.8.0+cu128", "12.8")  # {arch_list: [sm_70, sm_75, sm_80, sm_86, sm_90, sm_100, sm_120],
                                         #  source: "table: torch 2.8 cu128"}
    covers(["sm_86", "sm_90"], "8.9")    # true: an L4 runs sm_86 cubins
    covers(["sm_50", …, "sm_90"], "12.0")   # false: an RTX 5090 needs a CUDA >= 12.8 build
"""

from __future__ import annotations

import functools
import json
import platform
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from wfgy_rules.documents.yamlio import load_file

ARCHES_PATH = Path(__file__).with_name("torch_arches.yaml")
ARCH = re.compile(r"^(sm|compute)_(\d+)([af]?)$")  # an entry of torch.cuda.get_arch_list()
_CAPABILITY = re.compile(r"^(\d+)\.(\d)$")
_CUDA_LABEL = re.compile(r"^cu(\d+)(\d)$")
_PROBE = ("import json, torch\n"
          "get_flags = getattr(torch._C, '_cuda_getArchFlags', None)\n"
          "flags = get_flags() if get_flags else None\n"
          "print(json.dumps(flags.split() if flags else None))\n")


@functools.lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    return load_file(ARCHES_PATH).data


@functools.lru_cache(maxsize=1)
def arch_table() -> dict[tuple[str, str, str], tuple[str, ...]]:
    """``torch_arches.yaml`` as ``{(platform, torch, cuda): arch list}`` (a broken file raises: a packaging bug)."""
    data = _data()
    table: dict[tuple[str, str, str], tuple[str, ...]] = {}
    for row in data["builds"]:
        key = (data["platform"], row["torch"], row["cuda"])
        if key in table or not row.get("source"):
            raise ValueError(f"{ARCHES_PATH}: duplicate or unsourced row torch {row['torch']} cuda {row['cuda']}")
        table[key] = arch_flags(row["arch"])
    return table


def arch_flags(torch_cuda_arch_list: str) -> tuple[str, ...]:
    """``"8.0;9.0;12.0+PTX"`` -> ``("sm_80", "sm_90", "sm_120", "compute_120")``, as torch reports it."""
    sass, ptx = [], []
    for entry in torch_cuda_arch_list.split(";"):
        number, plus_ptx = entry.removesuffix("+PTX"), entry.endswith("+PTX")
        major, minor = number.split(".")
        sass.append(f"sm_{major}{minor}")
        ptx.extend([f"compute_{major}{minor}"] if plus_ptx else [])
    return tuple(sass + ptx)


def torch_arches(torch_version: str, cuda_version: str | None = None,
                 platform_name: str | None = None) -> dict[str, Any]:
    """``{arch_list, source}`` of a published torch wheel, from the table; nulls when the build is not in it.

    ``torch_version`` as ``torch.__version__`` (``2.8.0+cu128``, or ``2.8.0`` from PyPI);
    ``cuda_version`` as ``torch.version.cuda`` (else the ``+cuXYZ`` label is used);
    ``platform_name`` defaults to this machine (``linux-x86_64``).
    """
    unknown = {"arch_list": None, "source": None}
    try:
        version = Version(torch_version)
    except InvalidVersion:
        return unknown
    label = _CUDA_LABEL.match(version.local or "")
    if version.is_prerelease or version.is_devrelease or (version.local and not label):
        return unknown  # a nightly, source or vendor build: its own list
    cuda = _major_minor(cuda_version) or (f"{label[1]}.{label[2]}" if label else None)
    release = f"{version.major}.{version.minor}"
    where = platform_name or f"{sys.platform}-{platform.machine()}"
    arches = arch_table().get((where, release, cuda or ""))
    if arches is None:
        return unknown
    return {"arch_list": list(arches), "source": f"table: torch {release} cu{cuda.replace('.', '')}"}


def _major_minor(version: str | None) -> str | None:
    match = re.match(r"(\d+)\.(\d+)", version or "")
    return f"{match[1]}.{match[2]}" if match else None


def covers(arch_list: Iterable[str] | None, compute_capability: str | None) -> bool | None:
    """Whether a build with ``arch_list`` has code a GPU of ``compute_capability`` (``"8.9"``) can run.

    As the CUDA driver loads kernels (CUDA C++ Programming Guide, "Binary Compatibility" and
    "PTX Compatibility"): an ``sm_XY`` cubin runs on devices X.Z with Z ≥ Y of the same major
    (``sm_86`` runs on an L4, 8.9; ``sm_80`` on an A10G, 8.6), except on the integrated Tegra
    GPUs, which run only their own cubins; ``sm_90a``-style architecture-specific code runs only
    on its exact GPU; ``compute_XY`` PTX is compiled by the driver for any device ≥ X.Y (newer
    majors included). None when either argument is unknown.
    """
    if arch_list is None:
        return None
    return covering_arch(arch_list, compute_capability) is not None if _device(compute_capability) else None


def covering_arch(arch_list: Iterable[str], compute_capability: str | None) -> str | None:
    """The entry of ``arch_list`` that lets the GPU run (its own cubin first, then a compatible one, then PTX)."""
    device = _device(compute_capability)
    if device is None:
        return None
    parsed = [(entry, ARCH.match(entry)) for entry in arch_list]
    candidates = [(entry, match[1], int(match[2]), match[3]) for entry, match in parsed if match]
    major = device // 10
    exact = [e for e, kind, code, _ in candidates if kind == "sm" and code == device]
    integrated = f"{major}.{device % 10}" in _data()["integrated_gpus"]
    family = [e for e, kind, code, suffix in sorted(candidates, key=lambda c: -c[2])
              if kind == "sm" and suffix != "a" and not integrated and code // 10 == major and code <= device]
    ptx = [e for e, kind, code, suffix in sorted(candidates, key=lambda c: -c[2])
           if kind == "compute" and (code == device if suffix == "a" else
                                     code <= device and (suffix != "f" or code // 10 == major))]
    return next(iter(exact + family + ptx), None)


def _device(compute_capability: str | None) -> int | None:
    match = _CAPABILITY.match(compute_capability.strip()) if isinstance(compute_capability, str) else None
    return int(match[1]) * 10 + int(match[2]) if match else None


def probe_torch_arches(python: str = sys.executable, timeout: float = 30.0) -> list[str] | None:
    """The exact arch list of the torch ``python`` imports (``torch._C._cuda_getArchFlags``, no GPU needed).

    Runs ``python -c 'import torch …'`` in a subprocess bounded by ``timeout`` seconds; None on
    any failure (no such interpreter, no torch, a CPU build, a timeout, unexpected output).
    """
    try:
        done = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    lines = done.stdout.strip().splitlines() if done.returncode == 0 else []
    try:
        flags = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    if not isinstance(flags, list) or not flags or not all(isinstance(f, str) and ARCH.match(f) for f in flags):
        return None
    return flags
