#!/usr/bin/env python3
"""Check the ``nvml`` provider on a machine with a real NVIDIA GPU.

Runs the provider, prints its facts as JSON, and compares them with what ``nvidia-smi``
says (driver version, CUDA version, and per GPU: name, UUID, total memory, compute
capability). Exit 0 when everything agrees, 1 on any disagreement or when NVML is not
available; without ``nvidia-smi`` only the provider's own facts are checked.

    python scripts/check_nvml_gpu.py
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wfgy_rules.providers.base import ProviderContext  # noqa: E402
from wfgy_rules.providers.gpu.nvml import NvmlProvider  # noqa: E402

QUERY = "driver_version,name,uuid,memory.total,compute_cap"
MEMORY_TOLERANCE_MIB = 1  # nvidia-smi rounds bytes to MiB on its own


def main() -> int:
    facts = NvmlProvider().collect({}, ProviderContext())
    print(json.dumps(facts, indent=2, sort_keys=True))
    problems = _self_check(facts)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        print("nvidia-smi not found: skipping the cross-check", file=sys.stderr)
    elif facts["available"]:
        problems += _compare(facts, _smi_rows(smi), _smi_cuda_version(smi))
    for problem in problems:
        print(f"MISMATCH: {problem}", file=sys.stderr)
    print("OK: NVML facts agree with nvidia-smi" if not problems else "FAILED", file=sys.stderr)
    return 1 if problems else 0


def _self_check(facts: dict[str, Any]) -> list[str]:
    if not facts["available"]:
        return [f"NVML not available: {facts['error_kind']}: {facts['error']}"]
    problems = []
    if facts["device_count"] != len(facts["devices"]) or not facts["devices"]:
        problems.append(f"device_count {facts['device_count']} vs {len(facts['devices'])} devices")
    if not re.fullmatch(r"\d+\.\d+", facts["cuda_driver_version"] or ""):
        problems.append(f"cuda_driver_version {facts['cuda_driver_version']!r} is not MAJOR.MINOR")
    return problems


def _smi_rows(smi: str) -> list[list[str]]:
    args = [smi, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    return [[cell.strip() for cell in line.split(",")] for line in out.splitlines() if line.strip()]


def _smi_cuda_version(smi: str) -> str | None:
    out = subprocess.run([smi, "-q"], capture_output=True, text=True, timeout=60).stdout
    match = re.search(r"CUDA Version\s*:\s*(\d+\.\d+)", out)
    return match.group(1) if match else None


def _compare(facts: dict[str, Any], rows: list[list[str]], cuda: str | None) -> list[str]:
    problems = []
    if len(rows) != facts["device_count"]:
        problems.append(f"device_count: nvml {facts['device_count']}, nvidia-smi {len(rows)}")
    if cuda is not None and cuda != facts["cuda_driver_version"]:
        problems.append(f"cuda_driver_version: nvml {facts['cuda_driver_version']}, smi {cuda}")
    for device, (driver, name, uuid, memory, capability) in zip(facts["devices"], rows):
        where = f"device {device['index']}"
        expected = {"name": name, "uuid": uuid, "compute_capability": capability}
        problems += [
            f"{where} {key}: nvml {device[key]!r}, nvidia-smi {value!r}"
            for key, value in expected.items()
            if device[key] != value
        ]
        if driver != facts["driver_version"]:
            problems.append(f"driver_version: nvml {facts['driver_version']}, smi {driver}")
        if abs((device["memory_total_mib"] or 0) - int(memory)) > MEMORY_TOLERANCE_MIB:
            problems.append(f"{where} memory: nvml {device['memory_total_mib']}, smi {memory}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
