from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pynvml
import pytest

from tests.helpers import run_cli
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.gpu.nvml import NvmlProvider

H100_BYTES = 85_520_809_984  # 81559 MiB, as nvidia-smi shows an H100 80GB HBM3
A100_BYTES = 42_949_672_960  # 40960 MiB


def collect(environ=None):
    return NvmlProvider().collect({}, ProviderContext(environ=environ or {}))


def nvml_error(constant):
    """A real NVML exception, built the way the bindings build them from a return code."""
    return pynvml.NVMLError(getattr(pynvml, constant))


def memory(total):
    info = pynvml.c_nvmlMemory_t()
    info.total = total
    return info


class FakeGpus:
    """Stands in for libnvidia-ml behind the real pynvml function names."""

    def __init__(self, devices, driver="535.104.05", cuda=12020):
        self.devices = devices
        self.driver = driver
        self.cuda = cuda
        self.init_error = None
        self.inits = 0
        self.shutdowns = 0

    def answer(self, index, key):
        value = self.devices[index][key]
        if isinstance(value, Exception):
            raise value
        return value

    def functions(self):
        return {
            "nvmlInit": self.init,
            "nvmlShutdown": self.shutdown,
            "nvmlSystemGetDriverVersion": lambda: self.driver,
            "nvmlSystemGetCudaDriverVersion_v2": lambda: self.cuda,
            "nvmlSystemGetCudaDriverVersion": lambda: self.cuda,
            "nvmlDeviceGetCount": lambda: len(self.devices),
            "nvmlDeviceGetHandleByIndex": lambda i: self.answer(i, "handle") or i,
            "nvmlDeviceGetName": lambda h: self.answer(h, "name"),
            "nvmlDeviceGetUUID": lambda h: self.answer(h, "uuid"),
            "nvmlDeviceGetMemoryInfo": lambda h: memory(self.answer(h, "memory")),
            "nvmlDeviceGetCudaComputeCapability": lambda h: self.answer(h, "cc"),
            "nvmlDeviceGetMigMode": lambda h: self.answer(h, "mig"),
        }

    def init(self):
        if self.init_error is not None:
            raise self.init_error
        self.inits += 1

    def shutdown(self):
        self.shutdowns += 1


def h100(**overrides):
    device = {
        "handle": None,
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": "GPU-5f3c2a1e-0000-4000-8000-000000000001",
        "memory": H100_BYTES,
        "cc": (9, 0),
        "mig": [0, 0],
    }
    return {**device, **overrides}


def a100_mig():
    return {
        "handle": None,
        "name": "NVIDIA A100-PCIE-40GB",
        "uuid": "GPU-5f3c2a1e-0000-4000-8000-000000000002",
        "memory": A100_BYTES,
        "cc": (8, 0),
        "mig": [pynvml.NVML_DEVICE_MIG_ENABLE, pynvml.NVML_DEVICE_MIG_ENABLE],
    }


@pytest.fixture
def install(monkeypatch):
    def install(gpus):
        for name, fake in gpus.functions().items():
            assert hasattr(pynvml, name), f"pynvml no longer has {name}"
            monkeypatch.setattr(pynvml, name, fake)
        return gpus

    return install


def real_init_error():
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return exc
    pynvml.nvmlShutdown()
    return None


def test_schema_takes_no_options():
    jsonschema.Draft202012Validator.check_schema(NvmlProvider.config_schema)
    jsonschema.validate({}, NvmlProvider.config_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"timeout": 5}, NvmlProvider.config_schema)


def test_real_nvml_absent_on_a_host_without_nvidia():
    if not isinstance(real_init_error(), pynvml.NVMLError_LibraryNotFound):
        pytest.skip("libnvidia-ml is present on this host")
    facts = collect({"CUDA_VISIBLE_DEVICES": "0"})
    assert facts == {
        "available": False,
        "error": "NVML Shared Library Not Found",
        "error_kind": "library_not_found",
        "driver_version": None,
        "cuda_driver_version": None,
        "device_count": 0,
        "devices": [],
        "max_memory_total_mib": None,
        "max_memory_total_gib": None,
        "nvidia_visible_devices": None,
        "cuda_visible_devices": "0",
    }


def test_real_nvml_present_on_a_gpu_host():
    if real_init_error() is not None:
        pytest.skip("no NVIDIA driver on this host")
    facts = collect()
    json.dumps(facts)
    assert facts["available"] is True
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", facts["driver_version"])
    assert re.fullmatch(r"\d+\.\d+", facts["cuda_driver_version"])
    assert facts["device_count"] == len(facts["devices"]) >= 1
    for device in facts["devices"]:
        assert device["uuid"].startswith(("GPU-", "MIG-"))
        assert device["memory_total_mib"] > 0
        assert re.fullmatch(r"\d+\.\d+", device["compute_capability"])


def test_present(install):
    gpus = install(FakeGpus([h100(), a100_mig()]))
    facts = collect({"NVIDIA_VISIBLE_DEVICES": "all"})
    assert facts == {
        "available": True,
        "error": None,
        "error_kind": None,
        "driver_version": "535.104.05",
        "cuda_driver_version": "12.2",
        "device_count": 2,
        "devices": [
            {
                "index": 0,
                "name": "NVIDIA H100 80GB HBM3",
                "uuid": "GPU-5f3c2a1e-0000-4000-8000-000000000001",
                "memory_total_mib": 81559,
                "compute_capability": "9.0",
                "mig_mode": {"current": False, "pending": False},
            },
            {
                "index": 1,
                "name": "NVIDIA A100-PCIE-40GB",
                "uuid": "GPU-5f3c2a1e-0000-4000-8000-000000000002",
                "memory_total_mib": 40960,
                "compute_capability": "8.0",
                "mig_mode": {"current": True, "pending": True},
            },
        ],
        "max_memory_total_mib": 81559,
        "max_memory_total_gib": 79.65,
        "nvidia_visible_devices": "all",
        "cuda_visible_devices": None,
    }
    assert (gpus.inits, gpus.shutdowns) == (1, 1)


def test_no_devices(install):
    install(FakeGpus([]))
    facts = collect()
    assert facts["available"] is True
    assert (facts["device_count"], facts["devices"], facts["max_memory_total_mib"]) == (0, [], None)


def test_old_bindings_return_bytes(install):
    install(FakeGpus([h100(name=b"Tesla T4", uuid=b"GPU-abc")], driver=b"470.82.01"))
    facts = collect()
    assert facts["driver_version"] == "470.82.01"
    assert facts["devices"][0]["name"] == "Tesla T4"
    assert facts["devices"][0]["uuid"] == "GPU-abc"


@pytest.mark.parametrize(
    ("value", "version"), [(12020, "12.2"), (11080, "11.8"), (12040, "12.4"), (13000, "13.0")]
)
def test_cuda_driver_version_decoding(install, value, version):
    install(FakeGpus([h100()], cuda=value))
    assert collect()["cuda_driver_version"] == version


def test_cuda_v2_missing_from_bindings_falls_back_to_v1(install, monkeypatch):
    gpus = install(FakeGpus([h100()]))
    monkeypatch.delattr(pynvml, "nvmlSystemGetCudaDriverVersion_v2")
    monkeypatch.setattr(pynvml, "nvmlSystemGetCudaDriverVersion", lambda: 11040)
    assert collect()["cuda_driver_version"] == "11.4"
    assert gpus.shutdowns == 1


def test_cuda_v2_missing_from_driver_falls_back_to_v1(install, monkeypatch):
    install(FakeGpus([h100()]))

    def not_in_driver():
        raise nvml_error("NVML_ERROR_FUNCTION_NOT_FOUND")

    monkeypatch.setattr(pynvml, "nvmlSystemGetCudaDriverVersion_v2", not_in_driver)
    monkeypatch.setattr(pynvml, "nvmlSystemGetCudaDriverVersion", lambda: 12010)
    assert collect()["cuda_driver_version"] == "12.1"


@pytest.mark.parametrize(
    ("constant", "cls", "kind", "text"),
    [
        ("NVML_ERROR_LIBRARY_NOT_FOUND", "NVMLError_LibraryNotFound", "library_not_found",
         "NVML Shared Library Not Found"),
        ("NVML_ERROR_DRIVER_NOT_LOADED", "NVMLError_DriverNotLoaded", "driver_not_loaded",
         "Driver Not Loaded"),
        ("NVML_ERROR_NO_PERMISSION", "NVMLError_NoPermission", "no_permission",
         "Insufficient Permissions"),
        ("NVML_ERROR_NOT_SUPPORTED", "NVMLError_NotSupported", "not_supported", "Not Supported"),
        ("NVML_ERROR_FUNCTION_NOT_FOUND", "NVMLError_FunctionNotFound", "function_not_found",
         "Function Not Found"),
        ("NVML_ERROR_LIB_RM_VERSION_MISMATCH", "NVMLError_LibRmVersionMismatch",
         "lib_rm_version_mismatch", "RM has detected an NVML/RM version mismatch."),
        ("NVML_ERROR_GPU_IS_LOST", "NVMLError_GpuIsLost", "unknown", "GPU is lost"),
    ],
)
def test_init_errors_are_facts(install, constant, cls, kind, text):
    gpus = FakeGpus([h100()])
    gpus.init_error = nvml_error(constant)
    assert type(gpus.init_error) is getattr(pynvml, cls)
    install(gpus)
    facts = collect()
    assert (facts["available"], facts["error"], facts["error_kind"]) == (False, text, kind)
    assert (facts["device_count"], facts["devices"], facts["driver_version"]) == (0, [], None)
    assert gpus.shutdowns == 0  # nothing to shut down after a failed init


def test_unsupported_device_fields_are_null(install):
    install(
        FakeGpus(
            [
                h100(mig=nvml_error("NVML_ERROR_NOT_SUPPORTED")),
                h100(memory=nvml_error("NVML_ERROR_NOT_SUPPORTED"),
                     cc=nvml_error("NVML_ERROR_FUNCTION_NOT_FOUND")),
            ]
        )
    )
    first, second = collect()["devices"]
    assert first["mig_mode"] is None
    assert first["memory_total_mib"] == 81559
    assert (second["memory_total_mib"], second["compute_capability"]) == (None, None)


def test_unsupported_memory_everywhere_gives_null_max(install):
    install(FakeGpus([h100(memory=nvml_error("NVML_ERROR_NOT_SUPPORTED"))]))
    assert collect()["max_memory_total_mib"] is None


def test_device_failure_after_init_keeps_driver_facts_and_shuts_down(install):
    gpus = install(FakeGpus([h100(), h100(handle=nvml_error("NVML_ERROR_GPU_IS_LOST"))]))
    facts = collect()
    assert facts["available"] is False
    assert (facts["error"], facts["error_kind"]) == ("GPU is lost", "unknown")
    assert (facts["driver_version"], facts["cuda_driver_version"]) == ("535.104.05", "12.2")
    assert (facts["device_count"], facts["devices"]) == (0, [])
    assert gpus.shutdowns == 1


def test_failed_shutdown_does_not_lose_facts(install, monkeypatch):
    install(FakeGpus([h100()]))

    def broken_shutdown():
        raise nvml_error("NVML_ERROR_UNINITIALIZED")

    monkeypatch.setattr(pynvml, "nvmlShutdown", broken_shutdown)
    assert collect()["available"] is True


# --- through the CLI, with tests/gpus/pynvml.py standing in for libnvidia-ml -----------------------

FAKE_NVML = Path(__file__).resolve().parent.parent / "gpus"


def nvml_facts_in_a_container(tmp_path, **environ):
    """``wfgy-rules facts --provider nvml`` with no libnvidia-ml (FAKE_GPUS=none) and ``environ``."""
    (tmp_path / "wfgy.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Config\npolicies: [builtin]\nproviders: {nvml: {}}\n")
    env = {"PYTHONPATH": str(FAKE_NVML), "FAKE_GPUS": "none", **environ}
    done = run_cli("facts", "--provider", "nvml", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["nvml"]


def test_a_container_that_asked_for_gpus_and_got_no_driver_says_so(tmp_path):
    facts = nvml_facts_in_a_container(tmp_path, NVIDIA_VISIBLE_DEVICES="all")
    assert (facts["available"], facts["error_kind"], facts["device_count"]) == (False, "driver_not_injected", 0)
    assert facts["error"] == (
        "NVIDIA_VISIBLE_DEVICES=all asks the NVIDIA container runtime for GPUs, but libnvidia-ml is not in the container: "
        "the driver was not injected (run with --gpus or runtimeClassName: nvidia, on a node with the NVIDIA Container "
        "Toolkit; set NVIDIA_VISIBLE_DEVICES=void for a CPU-only container) (NVML Shared Library Not Found)"
    )


@pytest.mark.parametrize("visible", [None, "", "void", "none", "VOID"])
def test_no_library_where_no_gpu_was_asked_for_is_plain_absence(tmp_path, monkeypatch, visible):
    monkeypatch.delenv("NVIDIA_VISIBLE_DEVICES", raising=False)  # run_cli passes this environment on
    facts = nvml_facts_in_a_container(tmp_path, **({} if visible is None else {"NVIDIA_VISIBLE_DEVICES": visible}))
    assert (facts["error_kind"], facts["error"]) == ("library_not_found", "NVML Shared Library Not Found")


def test_a_driver_that_is_there_but_not_loaded_keeps_its_own_kind(tmp_path):
    facts = nvml_facts_in_a_container(tmp_path, NVIDIA_VISIBLE_DEVICES="0", FAKE_GPUS="driver-not-loaded")
    assert facts["error_kind"] == "driver_not_loaded"
