"""``serving.installed``: what is installed, judged against the model and the GPUs.

Built from `wfgy_rules.providers.serving.installed` (which reads the installed packages'
files, never importing them) for the launch's engine and model::

    transformers: {version: 4.46.3, knows_model_type: false}      # null: not installed / no model_type
    engine:
      distribution: vllm
      version: 0.6.3
      architectures_listed: false      # one of the model's architectures is in the engine's registry
      supports_model: false            # listed, or runnable through the engine's transformers backend
      supports_model_because: "Gemma3ForCausalLM is not in vllm 0.6.3's model registry, which predates
                               its transformers backend"
    requirements:                      # Requires-Dist of the engine's metadata, this interpreter's markers
      distribution: vllm
      version: 0.6.3
      checked: 31
      unsatisfied_compiled: [{name: torch, specifier: "==2.4.0", installed: 2.5.1}]   # COMPILED_PACKAGES
      unsatisfied_other: []
    torch:
      version: 2.4.1+cu124
      cuda: "12.4"
      arch_list: [sm_50, sm_60, sm_70, sm_75, sm_80, sm_86, sm_90]
      arch_source: "table: torch 2.4 cu124"   # or "probe"; null when unknown
      covers_visible_gpus: false       # null: no torch, no arch list or no visible GPU
      uncovered: ["12.0"]

**Transformers backend.** From vLLM 0.8 an architecture missing from vLLM's registry may
still run through transformers' own modelling code (``--model-impl transformers``, chosen
automatically), so ``supports_model`` is false only where the registry lacks it *and* that
fallback cannot help: a vLLM older than `TRANSFORMERS_BACKEND_SINCE`, or a model type the
installed transformers does not know either. SGLang likewise falls back to transformers;
an unknown architecture is only judged for vLLM.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfgy_rules.errors import EvaluationError
from wfgy_rules.policy import versions
from wfgy_rules.providers.serving import installed

ENGINE_DISTRIBUTIONS = {"vllm": "vllm", "sglang": "sglang", "tgi": "text-generation-server"}
# Packages an engine links against: another build than the one it pins is `undefined symbol`.
COMPILED_PACKAGES = frozenset({
    "torch", "torchvision", "torchaudio", "xformers", "flashinfer-python", "flashinfer", "triton",
    "vllm-flash-attn", "flash-attn", "sgl-kernel",
})
TRANSFORMERS_BACKEND_SINCE = "0.8.0"  # vLLM release notes v0.8.0: "Transformers backend" for unsupported architectures


def installed_facts(launch: Mapping[str, Any], shape: Mapping[str, Any], gpus: Mapping[str, Any], probe: bool,
                    seconds: float | None) -> dict[str, Any]:
    """``serving.installed`` for this launch, model and set of GPUs (see the module docstring)."""
    engine = launch.get("engine")
    if engine is None:  # nothing will be launched: nothing installed to judge against it
        return {"transformers": {"version": None, "knows_model_type": None}, "engine": _engine(None, {}, {}),
                "requirements": None, "torch": _torch({}, False, None)}
    transformers = _transformers(shape)
    return {
        "transformers": transformers,
        "engine": _engine(engine, shape, transformers),
        "requirements": _requirements(engine),
        "torch": _torch(gpus, probe, seconds),
    }


def _transformers(shape: Mapping[str, Any]) -> dict[str, Any]:
    model_type = shape.get("model_type")
    found = installed.transformers_knows(model_type) if isinstance(model_type, str) else None
    if found is None:
        return {"version": None, "knows_model_type": None}
    return {"version": found["version"], "knows_model_type": found["knows"]}


def _engine(engine: str | None, shape: Mapping[str, Any], transformers: Mapping[str, Any]) -> dict[str, Any]:
    distribution = ENGINE_DISTRIBUTIONS.get(engine or "")
    empty = {"distribution": distribution, "version": None, "architectures_listed": None, "supports_model": None,
             "supports_model_because": None}
    architectures = [a for a in shape.get("architectures") or [] if isinstance(a, str)]
    found = installed.engine_architectures(engine) if engine in ("vllm", "sglang") else None
    if found is None or not architectures or found.get("architectures") is None:
        return {**empty, "version": found["version"] if found else None}
    listed = any(a in set(found["architectures"]) for a in architectures)
    supports, because = _supported(engine, found["version"], listed, architectures, transformers)
    if supports is False and found.get("plugins"):  # a plugin may register the architecture
        supports, because = None, f"{because}; plugins {', '.join(found['plugins'])} may register it"
    return {"distribution": distribution, "version": found["version"], "architectures_listed": listed,
            "supports_model": supports, "supports_model_because": because}


def _supported(engine: str, version: str | None, listed: bool, architectures: list[str],
               transformers: Mapping[str, Any]) -> tuple[bool | None, str | None]:
    if listed:
        return True, None
    names = ", ".join(architectures)
    if engine != "vllm":
        return None, f"{names} is not in {engine}'s registry; it may still run through its transformers backend"
    if transformers.get("knows_model_type") is False:
        return False, f"{names} is not in vllm {version}'s model registry and transformers {transformers.get('version')} does not know the model type either"
    try:
        old = version is not None and versions.compare(version, TRANSFORMERS_BACKEND_SINCE) < 0
    except EvaluationError:  # an unparseable version: not judged
        return None, None
    if old:
        return False, f"{names} is not in vllm {version}'s model registry, which predates its transformers backend ({TRANSFORMERS_BACKEND_SINCE})"
    return None, f"{names} is not in vllm {version}'s model registry; it may run through the transformers backend"


def _requirements(engine: str | None) -> dict[str, Any] | None:
    distribution = ENGINE_DISTRIBUTIONS.get(engine or "")
    found = installed.unsatisfied_requirements(distribution) if distribution else None
    if found is None:
        return None
    unsatisfied = found["unsatisfied"]
    return {
        "distribution": found["distribution"],
        "version": found["version"],
        "checked": found["checked"],
        "unsatisfied_compiled": [u for u in unsatisfied if _canonical(u["name"]) in COMPILED_PACKAGES],
        "unsatisfied_other": [u for u in unsatisfied if _canonical(u["name"]) not in COMPILED_PACKAGES],
    }


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _torch(gpus: Mapping[str, Any], probe: bool, seconds: float | None) -> dict[str, Any]:
    from wfgy_rules.providers.runtime import compiled_cuda, torch_build

    build = torch_build()
    version = build.get("version")
    cuda = compiled_cuda({}).get("compiled") if build.get("present") else None
    arches = {"arch_list": None, "source": None}
    if version is not None and cuda is not None:
        probed = installed.probe_torch_arches(timeout=min(seconds or 30.0, 30.0)) if probe else None
        arches = {"arch_list": probed, "source": "probe"} if probed else installed.torch_arches(version, cuda)
    arch_list = arches.get("arch_list")
    capabilities = sorted({d["compute_capability"] for d in gpus.get("devices") or [] if d.get("compute_capability")})
    verdicts = {c: installed.covers(arch_list, c) for c in capabilities} if arch_list else {}
    covered = None if not verdicts or None in verdicts.values() else all(verdicts.values())
    return {
        "version": version,
        "cuda": cuda,
        "arch_list": arch_list,
        "arch_source": arches.get("source"),
        "covers_visible_gpus": covered,
        "uncovered": [c for c, ok in verdicts.items() if ok is False],
    }
