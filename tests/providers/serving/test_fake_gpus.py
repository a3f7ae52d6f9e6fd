"""The stand-in ``pynvml`` the CLI tests put on ``PYTHONPATH`` (``tests/gpus``) answers with
the real nvidia-ml-py API: each call it replaces exists in the real bindings, and the
provider reads its GPUs exactly as it would read a driver's."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pynvml
import pytest

from tests.helpers import REPO

FAKE = REPO / "tests" / "gpus"


def fake_module_names() -> list[str]:
    probe = "import pynvml, json; print(json.dumps(list(pynvml.REPLACED)))"
    done = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "PYTHONPATH": str(FAKE)}, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_every_replaced_call_is_a_real_nvml_call():
    for name in fake_module_names():
        assert callable(getattr(pynvml, name, None)), f"nvidia-ml-py has no {name}"


@pytest.mark.parametrize("gpus,expected", [
    ("none", (False, "library_not_found", [])),
    ("driver-not-loaded", (False, "driver_not_loaded", [])),
    ("A10G,T4*2", (True, None, [("NVIDIA A10G", 23028, "8.6"), ("Tesla T4", 15360, "7.5"), ("Tesla T4", 15360, "7.5")])),
    ("RTX5090", (True, None, [("NVIDIA GeForce RTX 5090", 32607, "12.0")])),
])
def test_the_nvml_provider_reads_the_fake_gpus_as_real_ones(gpus, expected):
    probe = ("import json; from wfgy_rules.providers.gpu.nvml import NvmlProvider; from wfgy_rules.providers.base import ProviderContext;"
             "f = NvmlProvider().collect({}, ProviderContext(environ={}));"
             "print(json.dumps([f['available'], f['error_kind'], [[d['name'], d['memory_total_mib'], d['compute_capability']] for d in f['devices']]]))")
    env = {**os.environ, "PYTHONPATH": str(FAKE), "FAKE_GPUS": gpus}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    available, kind, devices = json.loads(done.stdout)
    assert (available, kind, [tuple(d) for d in devices]) == expected
