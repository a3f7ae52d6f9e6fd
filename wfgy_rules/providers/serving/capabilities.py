"""``serving.requirements``: the compute capability the launch needs of the GPU.

Read from `gpu_requirements.yaml` (vLLM's own checks, with their sources), and only where the
engine refuses rather than falls back:

* **dtype** — bfloat16 needs 8.0 when it is asked for (``--dtype bfloat16``). Under
  ``--dtype auto`` a bfloat16 checkpoint on an older GPU runs in float16 (vLLM warns and falls
  back), so nothing is required there.
* **quantization** — the method's ``get_min_capability()``: ``--quantization`` when given,
  else the checkpoint's ``quantization_config`` method (AWQ needs 7.5; where vLLM would switch
  it to a Marlin kernel it does so only on GPUs that have one). For a vLLM version between the
  tabled ones, or none installed, the smallest tabled minimum: never stricter than the engine.
* **attention backend** — ``--attention-backend`` / ``VLLM_ATTENTION_BACKEND`` naming a
  backend with a minimum (FLASH_ATTN: 8.0). Unset, the engine picks one the GPU supports.

Facts::

    dtype_min_capability: "8.0"       # null: the dtype needs nothing special
    dtype_because: "--dtype bfloat16"
    quantization: awq                 # the method judged (flag or checkpoint), null: none
    quantization_min_capability: "7.5"
    quantization_source: "pypi:vllm==0.34.0 vllm/model_executor/layers/quantization/auto_awq.py:236"
    attention_backend_min_capability: null
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfgy_rules.providers.serving import engine_tables

BF16_MIN_CAPABILITY = 80  # gpu_requirements.yaml dtype_checks: vllm/platforms/cuda.py


def requirement_facts(launch: Mapping[str, Any], shape: Mapping[str, Any], engine_version: str | None) -> dict[str, Any]:
    """``serving.requirements`` for this launch and model (see the module docstring)."""
    explicit_bf16 = launch.get("dtype") == "bfloat16" and "dtype" in (launch.get("explicit") or ())
    method = launch.get("quantization") or (shape.get("quantization") or {}).get("method")
    found = engine_tables.min_capability(method, engine_version) if method and launch.get("engine") == "vllm" else None
    return {
        "dtype_min_capability": _capability(BF16_MIN_CAPABILITY) if explicit_bf16 else None,
        "dtype_because": "--dtype bfloat16" if explicit_bf16 else None,
        "quantization": method,
        "quantization_min_capability": _capability(found[0]) if found else None,
        "quantization_source": found[1] if found else None,
        "attention_backend_min_capability": _backend_minimum(launch.get("attention_backend")),
    }


def _backend_minimum(backend: Any) -> str | None:
    if not isinstance(backend, str):
        return None
    minimums = [row["min_capability"] for row in engine_tables.requirements()["attention_backends"]
                if row["backend"] == backend.upper()]
    return _capability(min(minimums)) if minimums and min(minimums) > 0 else None


def _capability(value: int) -> str:
    """vLLM's ``major * 10 + minor`` as the ``"8.0"`` NVML reports (120 -> ``"12.0"``)."""
    return f"{value // 10}.{value % 10}"
