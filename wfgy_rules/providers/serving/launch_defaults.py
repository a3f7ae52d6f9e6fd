"""What an engine uses for the launch facts nobody set: the defaults in ``engines.yaml``.

A plain ``default`` is the value the engine version the table was read from uses (vLLM
0.34.0: ``--tensor-parallel-size`` 1, ``--dtype auto``, ``--max-model-len`` derived from the
model, so null). ``default_unless`` switches to another value when one of its flags is given
(vLLM's ``gpu_memory_utilization`` is 1.0 with the extensible KV cache and 0.92 once
``--kv-cache-memory-bytes`` or ``--no-enable-extensible-kv-cache`` turns that off).
``default_rule`` names a rule below, for a default the engine derives from its environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wfgy_rules.providers.serving.engine_tables import Engine


def apply_defaults(
    result: dict[str, Any],
    engine: Engine,
    given: Mapping[str, str],
    spellings: set[str],
    environ: Mapping[str, str],
    set_facts: set[str],
    errors: list[str],
) -> None:
    """Write the default of every fact of ``engine`` not in ``set_facts`` into ``result``.
    ``given``: the engine's flags that were given, by first name, with their last value;
    ``spellings``: the exact spellings used (``--no-enable-extensible-kv-cache``)."""
    for fact in engine.facts:
        if fact.name in set_facts:
            continue
        if fact.required:
            errors.append(f"{engine.name} needs {' or '.join(fact.flags)}")
        if fact.default_rule is not None:
            result[fact.name] = RULES[fact.default_rule](given, environ, errors)
        elif fact.default_unless is not None and set(fact.default_unless[0]) & spellings:
            result[fact.name] = fact.default_unless[1]
        else:
            result[fact.name] = fact.default


def _tgi_shards(given: Mapping[str, str], environ: Mapping[str, str], errors: list[str]) -> int | None:
    """TGI's ``find_num_shards`` (launcher/src/main.rs:1374) without ``--num-shard``:
    ``--sharded false`` is 1; otherwise the CUDA devices counted from CUDA_VISIBLE_DEVICES,
    else NVIDIA_VISIBLE_DEVICES (null for ``all``/``void``: TGI asks nvidia-smi), else
    ZE_AFFINITY_MASK, else 1 (``--sharded true`` needs more than one)."""
    sharded = given.get("--sharded", environ.get("SHARDED"))
    if sharded is not None and sharded.strip().lower() == "false":
        return 1
    devices = _visible_devices(environ)
    if sharded is not None and sharded.strip().lower() == "true":
        if devices is not None and devices <= 1:
            errors.append(f"--sharded true needs more than one CUDA device; {devices} visible")
        return devices
    return 1 if devices is None and not _names_devices(environ) else devices


def _visible_devices(environ: Mapping[str, str]) -> int | None:
    if "CUDA_VISIBLE_DEVICES" in environ:
        return len(environ["CUDA_VISIBLE_DEVICES"].split(","))
    if "NVIDIA_VISIBLE_DEVICES" in environ:
        value = environ["NVIDIA_VISIBLE_DEVICES"]
        return None if value.strip() in ("all", "void") else len(value.split(","))
    if "ZE_AFFINITY_MASK" in environ:
        return len(environ["ZE_AFFINITY_MASK"].split(","))
    return None


def _names_devices(environ: Mapping[str, str]) -> bool:
    return any(name in environ for name in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "ZE_AFFINITY_MASK"))


RULES: dict[str, Callable[..., Any]] = {"tgi_shards": _tgi_shards}
