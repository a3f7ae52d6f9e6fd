"""The GPUs a launched engine sees: NVML's devices narrowed the way CUDA narrows them."""

from __future__ import annotations

import pytest

from wfgy_rules.providers.serving.gpus import visible_gpus

NVML = {
    "available": True, "error": None, "error_kind": None, "driver_version": "550.54.15", "cuda_driver_version": "12.4",
    "devices": [
        {"index": 0, "name": "NVIDIA A10G", "uuid": "GPU-aaaa1111-0000", "memory_total_mib": 23028, "compute_capability": "8.6"},
        {"index": 1, "name": "Tesla T4", "uuid": "GPU-bbbb2222-0000", "memory_total_mib": 15360, "compute_capability": "7.5"},
    ],
}


@pytest.mark.parametrize("mask,expected", [
    (None, [0, 1]),            # unset: every GPU
    ("", []),                  # empty: none (what Cuda-Probe's fallback sets)
    ("1", [1]),
    ("1,0", [1, 0]),           # CUDA renumbers in the order given
    ("0,7,1", [0]),            # stops at the first entry that names no GPU
    ("-1", []),
    ("GPU-bbbb", [1]),         # a UUID prefix
    ("GPU-", []),              # ambiguous prefix: names no GPU
    ("0,0", [0]),              # a repeat ends the list
])
def test_cuda_visible_devices_narrows_as_cuda_does(mask, expected):
    environ = {} if mask is None else {"CUDA_VISIBLE_DEVICES": mask}
    facts = visible_gpus(NVML, environ)
    assert [d["index"] for d in facts["devices"]] == expected
    assert facts["visible_count"] == len(expected)
    assert facts["cuda_visible_devices"] == mask


def test_the_smallest_visible_gpu_bounds_memory_and_capability():
    both = visible_gpus(NVML, {})
    assert (both["min_memory_mib"], both["min_compute_capability"]) == (15360, "7.5")
    first = visible_gpus(NVML, {"CUDA_VISIBLE_DEVICES": "0"})
    assert (first["min_memory_mib"], first["min_compute_capability"]) == (23028, "8.6")


def test_capabilities_compare_as_versions_not_text():
    nvml = {**NVML, "devices": [{**NVML["devices"][0], "compute_capability": "12.0"}, {**NVML["devices"][1], "compute_capability": "9.0"}]}
    assert visible_gpus(nvml, {})["min_compute_capability"] == "9.0"


def test_without_nvml_nothing_is_visible_and_the_reason_is_kept():
    facts = visible_gpus({"available": False, "error": "NVML Shared Library Not Found", "error_kind": "library_not_found", "devices": []}, {})
    assert facts["visible_count"] == 0 and facts["available"] is False
    assert facts["error_kind"] == "library_not_found" and facts["min_memory_mib"] is None
