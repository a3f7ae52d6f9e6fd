"""Published torch builds and the GPUs they run on (torch_arches.yaml), and the exact probe of an
installed torch, run in a real subprocess against a torch package laid out on its import path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wfgy_rules.providers.serving import torch_builds
from wfgy_rules.providers.serving.torch_builds import covering_arch, covers, probe_torch_arches, torch_arches


@pytest.mark.parametrize(("torch_version", "cuda", "gpu", "covered"), [
    ("2.4.0", "12.4", "12.0", False),          # RTX 5090: sm_120 needs a CUDA >= 12.8 build
    ("2.6.0+cu126", "12.6", "12.0", False),
    ("2.8.0", "12.8", "12.0", True),
    ("2.9.0+cu130", None, "7.0", False),       # V100: CUDA 13 builds start at 7.5
    ("2.9.0+cu130", None, "7.5", True),        # T4
    ("2.1.2+cu121", "12.1", "8.0", True),      # A100
    ("2.1.2+cu121", "12.1", "8.9", True),      # L4 through sm_86
    ("2.10.0", "12.8", "7.0", True),           # 2.10 cu128 still has sm_70 ...
    ("2.11.0", "12.8", "7.0", False),          # ... 2.11 cu128 does not
    ("2.0.1", "11.7", "9.0", False),           # H100 on a CUDA 11.7 build
    ("2.8.0", "12.8", "10.3", True),           # B300 through sm_100
    ("2.9.0", "13.0", "13.0", True),           # a GPU newer than the build: compute_120 PTX, JIT-compiled
])
def test_published_builds_and_the_gpus_they_run_on(torch_version, cuda, gpu, covered):
    arches = torch_arches(torch_version, cuda, platform_name="linux-x86_64")
    assert arches["source"].startswith("table: torch ")
    assert covers(arches["arch_list"], gpu) is covered


def test_a_table_row_as_torch_reports_it():
    assert torch_arches("2.9.1+cu130", "13.0", platform_name="linux-x86_64") == {
        "arch_list": ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"],
        "source": "table: torch 2.9 cu130",
    }


@pytest.mark.parametrize(("torch_version", "cuda", "where"), [
    ("2.9.0.dev20250801+cu128", "12.8", "linux-x86_64"),   # a nightly
    ("2.6.0a0+ecf3bae40a.nv25.01", "12.8", "linux-x86_64"),  # a vendor build
    ("2.5.1+cpu", None, "linux-x86_64"),
    ("2.99.0", "12.8", "linux-x86_64"),                      # a release the table does not know
    ("2.8.0", "12.7", "linux-x86_64"),                       # a CUDA build PyTorch did not publish
    ("2.8.0", "12.8", "win32-AMD64"),                        # another platform's wheels
    ("not a version", "12.8", "linux-x86_64"),
])
def test_builds_the_table_does_not_hold_are_unknown(torch_version, cuda, where):
    assert torch_arches(torch_version, cuda, platform_name=where) == {"arch_list": None, "source": None}


@pytest.mark.parametrize(("arch_list", "gpu", "entry"), [
    (["sm_86", "sm_90"], "8.9", "sm_86"),        # a cubin runs on higher minors of its major
    (["sm_80", "sm_86"], "8.6", "sm_86"),        # its own cubin first
    (["sm_86"], "8.0", None),                    # never on a lower minor
    (["sm_80", "sm_86"], "8.7", None),           # Jetson Orin runs only sm_87 cubins
    (["sm_87"], "8.7", "sm_87"),
    (["sm_90a"], "9.0", "sm_90a"),               # architecture-specific: its exact GPU only
    (["sm_90a", "compute_90a"], "10.0", None),
    (["sm_90", "compute_90"], "10.0", "compute_90"),  # PTX is compiled for newer GPUs
    (["compute_100f"], "12.0", None),            # family PTX stays in its family
    (["sm_100f"], "10.3", "sm_100f"),
])
def test_which_code_a_gpu_runs(arch_list, gpu, entry):
    assert covering_arch(arch_list, gpu) == entry
    assert covers(arch_list, gpu) is (entry is not None)


def test_coverage_unknown_without_a_list_or_a_capability():
    assert covers(None, "8.0") is None
    assert covers(["sm_80"], None) is None
    assert covers(["sm_80"], "Ampere") is None


def test_every_table_row_reads_as_an_arch_list():
    table = torch_builds.arch_table()
    assert len(table) == len({(torch, cuda) for _, torch, cuda in table})
    for arches in table.values():
        assert arches and all(torch_builds.ARCH.match(a) for a in arches)
    assert torch_builds.arch_flags("7.5;8.0;12.0+PTX") == ("sm_75", "sm_80", "sm_120", "compute_120")


def fake_torch(tmp_path: Path, c_module: str) -> None:
    """A ``torch`` package whose ``_C`` is the given source, first on the probe's import path."""
    package = tmp_path / "torch"
    package.mkdir()
    (package / "__init__.py").write_text("from . import _C\n", encoding="utf-8")
    (package / "_C.py").write_text(c_module, encoding="utf-8")


def test_the_probe_reads_the_arch_flags_of_the_torch_the_interpreter_imports(tmp_path, monkeypatch):
    fake_torch(tmp_path, "def _cuda_getArchFlags():\n    return 'sm_80 sm_90 compute_90'\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert probe_torch_arches(sys.executable, timeout=20) == ["sm_80", "sm_90", "compute_90"]


@pytest.mark.parametrize("c_module", [
    "",                                                             # a CPU build: no CUDA arch flags
    "def _cuda_getArchFlags():\n    return None\n",
    "def _cuda_getArchFlags():\n    return 'gfx90a'\n",             # not a CUDA arch list
    "raise ImportError('libcudart.so.12: cannot open shared object file')\n",
    "import time\ntime.sleep(30)\n",                                # bounded by the timeout
])
def test_the_probe_answers_null_on_any_failure(tmp_path, monkeypatch, c_module):
    fake_torch(tmp_path, c_module)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert probe_torch_arches(sys.executable, timeout=3) is None


def test_the_probe_without_that_interpreter(tmp_path):
    assert probe_torch_arches(str(tmp_path / "no-python"), timeout=3) is None
