"""One container of a pod spec → its facts, for the ``kubernetes`` provider.

Env entries by name and source (a literal's value only when its name is in ``expose`` and it
holds no credential: `wfgy_rules.providers.env.credentials`), ``envFrom``, every volume mount,
resources with the accelerators requested, and whether the container is a model server,
decided by what it runs (`wfgy_rules.providers.serving.servers.recognise`, its reason kept as
``serving_reason``). ``command`` and ``args`` are never facts (they can carry ``--api-key
sk-…``); they are read, with Kubernetes' ``$(VAR)`` references expanded from the container's
literal env (credential-named variables excepted), to find the server and parse its launch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wfgy_rules.providers.env.credentials import check_exposable, looks_secret
from wfgy_rules.providers.kubernetes.pod_templates import Implied, Serves
from wfgy_rules.providers.serving.servers import recognise, starts_ray_node

JsonPath = tuple
Locate = Callable[[JsonPath], tuple[int | None, int | None]]
PREFLIGHT = re.compile(r"(?:^|[\s/])(?:wfgy-rules|-m\s+wfgy_rules)\s+preflight(?:\s|$)")
GPU_RESOURCE = re.compile(r"^nvidia\.com/(?:gpu|mig-.+)$")
# Devices a tensor-parallel launch spans one rank per: NVIDIA GPUs and MIG slices, AMD GPUs, TPU chips.
COUNTED_ACCELERATOR = re.compile(r"^(?:nvidia\.com/(?:gpu|mig-.+)|amd\.com/gpu|google\.com/tpu)$")
# Accelerators counted otherwise (Neuron cores per device, Gaudi, Intel): their count is not judged.
OTHER_ACCELERATOR = re.compile(r"^(?:habana\.ai/|intel\.com/gpu|gpu\.intel\.com/|aws\.amazon\.com/neuron|xilinx\.com/)")
REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
# Literal values that say "no key": an OpenAI-compatible client needs some api_key string even
# where the server has no auth (vLLM's examples: openai_api_key = "EMPTY"; llama.cpp's server
# README: "sk-no-key-required"). Such a value is no credential; a placeholder to be replaced by
# the real key ("<your-token>", "$HF_TOKEN", "YOUR_API_KEY") is one.
NO_KEY_VALUES = frozenset({"empty", "dummy", "none", "null", "fake", "no-key", "nokey", "not-needed", "not-used", "unused",
                           "sk-no-key-required", "no-key-required"})
ONLY_REFERENCES = re.compile(r"^\s*(?:\$\([A-Za-z_][A-Za-z0-9_.-]*\)\s*)+$")


@dataclass(frozen=True)
class Settings:
    expose: frozenset[str]


class Positions:
    """``path``/``line``/``column`` of a json path in the manifest being read."""

    def __init__(self, shown: str, locate: Locate):
        self.shown, self.locate = shown, locate

    def at(self, where: JsonPath) -> dict[str, Any]:
        line, column = self.locate(where)
        return {"path": self.shown, "line": line, "column": column}


def container_facts(c: Any, where: JsonPath, owner: dict[str, str], init: bool, pos: Positions, settings: Settings,
                    implied: Implied | None = None, serves: Serves | None = None) -> dict[str, Any]:
    """The facts of one container (``owner``: its workload's label and its name)."""
    c = _mapping(c)
    name = str(c.get("name", ""))
    owner = {**owner, "container": name}
    resources = _mapping(c.get("resources"))
    requests, limits = _mapping(resources.get("requests")), _mapping(resources.get("limits"))
    gpu_names = sorted({str(k) for k in (*requests, *limits) if GPU_RESOURCE.match(str(k))})
    env = [_env(e, (*where, "env", i), owner, pos, settings) for i, e in enumerate(_list(c.get("env")))]
    command, args = _words(c.get("command")), _words(c.get("args"))
    literals = _literal_env(c.get("env"))
    command, args = [expand(w, literals) for w in command], [expand(w, literals) for w in args]
    mounts = [{"volume": str(m.get("name")), "mount_path": m.get("mountPath"), "read_only": bool(m.get("readOnly", False)),
               "sub_path": m.get("subPath"), **owner, **pos.at((*where, "volumeMounts", i))}
              for i, m in enumerate(_list(c.get("volumeMounts"))) if isinstance(m, dict)]
    facts = {
        "name": name,
        "workload": owner["workload"],
        "init": init,
        **pos.at(where),
        "image": c.get("image"),
        "runs_preflight": bool(PREFLIGHT.search(" ".join([*command, *args]))),
        "env": env,
        "env_from": [_env_from(e, (*where, "envFrom", i), owner, pos) for i, e in enumerate(_list(c.get("envFrom")))],
        "env_names": sorted({e["name"] for e in env}),
        "resources": {"requests": {str(k): v for k, v in requests.items()}, "limits": {str(k): v for k, v in limits.items()}},
        "gpu": sum(_count(limits.get(k, requests.get(k))) for k in gpu_names),
        "gpu_resources": gpu_names,
        "accelerators": _accelerators(requests, limits),
        "ports": [p.get("containerPort") for p in _list(c.get("ports")) if isinstance(p, dict)],
        "security_context": _mapping(c.get("securityContext")),
        "volume_mounts": mounts,
    }
    if not init:
        applies = implied is not None and (implied.container is None or implied.container == name)
        found = recognise(command, args, c.get("image"), literals, (implied.command, implied.via) if applies and not command else None)
        if serves is not None:
            found = {"serving": {"engine": serves.server, "via": serves.via, "launch_via": None, "launch": None},
                     "reason": f"the object runs {serves.server} ({serves.via}) on this pod's containers"}
        facts.update(serving=found["serving"], serving_reason=found["reason"], ray_node=starts_ray_node([*command, *args], literals))
    return facts


def expand(text: str, values: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion of a command word or env value: a defined name is
    replaced, ``$$`` is a literal ``$``, an undefined reference stays as written."""

    def value(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return values.get(match.group(1), match.group(0))

    return REFERENCE.sub(value, text)


def _literal_env(entries: Any) -> dict[str, str]:
    """The literal env values a container's command may reference, in order (each may use the
    ones before it); credential-named variables are left out: a launch needs none of them."""
    values: dict[str, str] = {}
    for e in _list(entries):
        e = _mapping(e)
        name = e.get("name")
        if isinstance(name, str) and "valueFrom" not in e and not looks_secret(name):
            values[name] = expand("" if e.get("value") is None else str(e.get("value")), values)
    return values


def _accelerators(requests: Mapping[str, Any], limits: Mapping[str, Any]) -> dict[str, Any]:
    """``{count, resources, counted}``: the devices a tensor-parallel launch can span (NVIDIA
    GPUs and MIG slices, AMD GPUs, TPU chips); ``counted`` false when another accelerator
    (Neuron, Gaudi, Intel) is requested, whose ranks are not one per unit."""
    names = sorted({str(k) for k in (*requests, *limits) if COUNTED_ACCELERATOR.match(str(k)) or OTHER_ACCELERATOR.match(str(k))})
    counted = [n for n in names if COUNTED_ACCELERATOR.match(n)]
    return {
        "count": sum(_count(limits.get(n, requests.get(n))) for n in counted),
        "resources": names,
        "counted": len(counted) == len(names),
    }


def _env(e: Any, where: JsonPath, owner: dict[str, str], pos: Positions, settings: Settings) -> dict[str, Any]:
    e = _mapping(e)
    name = str(e.get("name", ""))
    entry: dict[str, Any] = {"name": name, "credential_name": looks_secret(name), **owner, **pos.at(where)}
    source = _mapping(e.get("valueFrom"))
    if "secretKeyRef" in source:
        ref = _mapping(source["secretKeyRef"])
        entry.update(source="secret", secret=ref.get("name"), key=ref.get("key"), optional=bool(ref.get("optional", False)))
    elif "configMapKeyRef" in source:
        ref = _mapping(source["configMapKeyRef"])
        entry.update(source="config_map", config_map=ref.get("name"), key=ref.get("key"), optional=bool(ref.get("optional", False)))
    elif "fieldRef" in source:
        entry.update(source="field", field_path=_mapping(source["fieldRef"]).get("fieldPath"))
    elif "resourceFieldRef" in source:
        entry.update(source="resource_field", resource=_mapping(source["resourceFieldRef"]).get("resource"))
    elif source:
        entry.update(source="other")
    else:
        value = e.get("value")
        text = "" if value is None else str(value)
        references = sorted({m.group(1) for m in REFERENCE.finditer(text) if m.group(1)})
        entry.update(source="literal", empty=not text.strip(), references=references, only_references=bool(ONLY_REFERENCES.match(text)),
                     says_no_key=text.strip().lower() in NO_KEY_VALUES)
        if name in settings.expose:
            check_exposable(name, text)  # a credential in an exposed variable: the provider fails
            entry["value"] = text
    return entry


def _env_from(e: Any, where: JsonPath, owner: dict[str, str], pos: Positions) -> dict[str, Any]:
    e = _mapping(e)
    kind, ref = ("secret", _mapping(e.get("secretRef"))) if "secretRef" in e else ("config_map", _mapping(e.get("configMapRef")))
    return {"source": kind, "name": ref.get("name"), "prefix": e.get("prefix") or "", "optional": bool(ref.get("optional", False)), **owner, **pos.at(where)}


def _words(value: Any) -> list[str]:
    return [str(w) for w in value] if isinstance(value, list) else []


def _count(quantity: Any) -> int:
    """An extended resource's count (a whole number, as a string or an int); anything else is 0."""
    if isinstance(quantity, bool):
        return 0
    if isinstance(quantity, int):
        return quantity
    return int(quantity) if isinstance(quantity, str) and quantity.strip().isdigit() else 0


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
