"""Kubernetes objects → workload facts, for the ``kubernetes`` provider.

One entry per workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob;
pod templates unwrapped, ``List`` kinds unwrapped) and the keys (never the values) of every
Secret. Every entry carries ``path``/``line``/``column`` so results point into the manifest.

Values are kept out on purpose: an env var's literal value appears only when its name is in
``expose`` and the value holds no credential (`wfgy_rules.providers.env.credentials`; the
rest say ``empty: true|false``); ``command`` and ``args`` are not facts at
all (they can carry ``--api-key sk-…``): only what rules need is derived from them
(``runs_preflight``, and the workload's ``serving`` flag). A Secret contributes its name and
its keys (``data`` and ``stringData``), never its data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from wfgy_rules.providers.env.credentials import check_exposable, looks_secret

JsonPath = tuple
Locate = Callable[[JsonPath], tuple[int | None, int | None]]

POD_TEMPLATE: dict[str, JsonPath] = {  # kind → where its pod spec lives
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
LONG_RUNNING = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"})
SERVING_ANNOTATION = "wfgy-rules.io/serving"  # "true" / "false": overrides the guess
GATE_ANNOTATION = "wfgy-rules.io/gate"  # "image-entrypoint": the image's own ENTRYPOINT runs preflight
PREFLIGHT = re.compile(r"(?:^|[\s/])(?:wfgy-rules|-m\s+wfgy_rules)\s+preflight(?:\s|$)")
GPU_RESOURCE = re.compile(r"^nvidia\.com/(?:gpu|mig-.+)$")


@dataclass(frozen=True)
class Settings:
    expose: frozenset[str]
    serving: re.Pattern[str]


def objects(data: Any, where: JsonPath = ()) -> Iterator[tuple[JsonPath, dict[str, Any]]]:
    """(json path, object) of every object in a document, ``List`` kinds unwrapped."""
    if not isinstance(data, dict):
        return
    kind = data.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list):
        for index, item in enumerate(data["items"]):
            yield from objects(item, (*where, "items", index))
    elif isinstance(kind, str):
        yield where, data


def secret_keys(obj: Mapping[str, Any]) -> list[str]:
    """The keys of a Secret manifest (``data`` and ``stringData``), never its values."""
    keys: set[str] = set()
    for section in ("data", "stringData"):
        if isinstance(obj.get(section), dict):
            keys.update(str(k) for k in obj[section])
    return sorted(keys)


def workload(obj: Mapping[str, Any], where: JsonPath, shown: str, locate: Locate, settings: Settings) -> dict[str, Any] | None:
    """The facts of one workload object, or None when ``obj`` is not a workload."""
    kind = obj.get("kind")
    if kind not in POD_TEMPLATE:
        return None
    spec_at = POD_TEMPLATE[kind]
    spec = _at(obj, spec_at)
    if not isinstance(spec, dict):
        return None
    meta = _mapping(obj.get("metadata"))
    template_meta = _mapping(_at(obj, spec_at[:-1] + ("metadata",))) if kind != "Pod" else meta
    annotations = {**_mapping(meta.get("annotations")), **_mapping(template_meta.get("annotations"))}
    name = str(meta.get("name") or meta.get("generateName") or "")
    label = f"{kind.lower()}/{name}"
    pos = _Positions(shown, locate)
    volumes = _secret_volumes(spec, (*where, *spec_at), pos)
    containers = [_container(c, (*where, *spec_at, "containers", i), label, False, volumes, pos, settings)
                  for i, c in enumerate(_list(spec.get("containers")))]
    inits = [_container(c, (*where, *spec_at, "initContainers", i), label, True, volumes, pos, settings)
             for i, c in enumerate(_list(spec.get("initContainers")))]
    for vol in volumes:
        vol["mounts"] = [m for c in (*inits, *containers) for m in c["_mounts"] if m["volume"] == vol["volume"]]
        vol["mounts"] = [{k: v for k, v in m.items() if k != "volume"} for m in vol["mounts"]]
    serving = _serving(kind, annotations, spec, settings)
    facts: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "namespace": meta.get("namespace"),
        "label": label,
        **pos.at((*where,)),
        "labels": {k: str(v) for k, v in _mapping(template_meta.get("labels") or meta.get("labels")).items()},
        "serving": serving,
        "service_account": spec.get("serviceAccountName"),
        "node_selector": {k: str(v) for k, v in _mapping(spec.get("nodeSelector")).items()},
        "tolerations": [_mapping(t) for t in _list(spec.get("tolerations"))],
        "security_context": _mapping(spec.get("securityContext")),
        "containers": [_public(c) for c in containers],
        "init_containers": [_public(c) for c in inits],
        "secret_volumes": volumes,
        "gpu": sum(c["gpu"] for c in containers),
        "gate": _gate(inits, containers, annotations, pos.at((*where,))),
    }
    return facts


def _serving(kind: str, annotations: Mapping[str, Any], spec: Mapping[str, Any], settings: Settings) -> bool:
    """A long-running workload whose image or command line names a model server (or says so)."""
    declared = str(annotations.get(SERVING_ANNOTATION, "")).lower()
    if declared in ("true", "false"):
        return declared == "true"
    if kind not in LONG_RUNNING:
        return False
    for container in _list(spec.get("containers")):
        words = [str(container.get("image", "")), *map(str, _list(container.get("command"))), *map(str, _list(container.get("args")))]
        if any(settings.serving.search(word) for word in words):
            return True
    return False


def _gate(inits: list[dict[str, Any]], containers: list[dict[str, Any]], annotations: Mapping[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    for via, group in (("init_container", inits), ("entrypoint", containers)):
        for c in group:
            if c["runs_preflight"]:
                return {"present": True, "via": via, "container": c["name"]}
    if str(annotations.get(GATE_ANNOTATION, "")) == "image-entrypoint":
        return {"present": True, "via": "image_entrypoint", "container": None}
    return {"present": False, "via": None, "container": None}


def _container(c: Any, where: JsonPath, label: str, init: bool, volumes: list[dict[str, Any]], pos: _Positions, settings: Settings) -> dict[str, Any]:
    c = _mapping(c)
    name = str(c.get("name", ""))
    argv = " ".join(str(w) for w in [*_list(c.get("command")), *_list(c.get("args"))])
    resources = _mapping(c.get("resources"))
    requests, limits = _mapping(resources.get("requests")), _mapping(resources.get("limits"))
    gpu_names = sorted({k for k in (*requests, *limits) if GPU_RESOURCE.match(str(k))})
    owner = {"workload": label, "container": name}
    env = [_env(e, (*where, "env", i), owner, pos, settings) for i, e in enumerate(_list(c.get("env")))]
    env_from = [_env_from(e, (*where, "envFrom", i), owner, pos) for i, e in enumerate(_list(c.get("envFrom")))]
    secret_volumes = {v["volume"] for v in volumes}
    mounts = [{"volume": str(m.get("name")), "container": name, "mount_path": m.get("mountPath"), "read_only": bool(m.get("readOnly", False)),
               "sub_path": m.get("subPath"), **pos.at((*where, "volumeMounts", i))}
              for i, m in enumerate(_list(c.get("volumeMounts"))) if isinstance(m, dict) and m.get("name") in secret_volumes]
    return {
        "name": name,
        "init": init,
        **pos.at(where),
        "image": c.get("image"),
        "runs_preflight": bool(PREFLIGHT.search(argv)),
        "env": env,
        "env_from": env_from,
        "env_names": sorted({e["name"] for e in env}),
        "resources": {"requests": {str(k): v for k, v in requests.items()}, "limits": {str(k): v for k, v in limits.items()}},
        "gpu": sum(_count(limits.get(k, requests.get(k))) for k in gpu_names),
        "gpu_resources": gpu_names,
        "ports": [p.get("containerPort") for p in _list(c.get("ports")) if isinstance(p, dict)],
        "security_context": _mapping(c.get("securityContext")),
        "_mounts": mounts,
    }


def _public(container: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in container.items() if not k.startswith("_")}


def _env(e: Any, where: JsonPath, owner: dict[str, str], pos: _Positions, settings: Settings) -> dict[str, Any]:
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
        entry.update(source="literal", empty=not text.strip())
        if name in settings.expose:
            check_exposable(name, text)  # a credential in an exposed variable: the provider fails
            entry["value"] = text
    return entry


def _env_from(e: Any, where: JsonPath, owner: dict[str, str], pos: _Positions) -> dict[str, Any]:
    e = _mapping(e)
    kind, ref = ("secret", _mapping(e.get("secretRef"))) if "secretRef" in e else ("config_map", _mapping(e.get("configMapRef")))
    return {"source": kind, "name": ref.get("name"), "prefix": e.get("prefix") or "", "optional": bool(ref.get("optional", False)), **owner, **pos.at(where)}


def _secret_volumes(spec: Mapping[str, Any], where: JsonPath, pos: _Positions) -> list[dict[str, Any]]:
    """Secret volumes and projected volumes' secret sources, with the file names they define."""
    found = []
    for i, volume in enumerate(_list(spec.get("volumes"))):
        volume = _mapping(volume)
        sources: list[tuple[JsonPath, Mapping[str, Any], str | None]] = []
        if isinstance(volume.get("secret"), dict):
            sources.append(((*where, "volumes", i, "secret"), volume["secret"], volume["secret"].get("secretName")))
        for j, source in enumerate(_list(_mapping(volume.get("projected")).get("sources"))):
            if isinstance(source, dict) and isinstance(source.get("secret"), dict):
                sources.append(((*where, "volumes", i, "projected", "sources", j, "secret"), source["secret"], source["secret"].get("name")))
        for at, ref, secret in sources:
            items = [_mapping(item) for item in _list(ref.get("items"))]
            found.append({
                "volume": str(volume.get("name", "")),
                "secret": secret,
                "optional": bool(ref.get("optional", False)),
                "items": [{"key": item.get("key"), "path": item.get("path")} for item in items] if "items" in ref else None,
                **pos.at(at),
            })
    return found


class _Positions:
    def __init__(self, shown: str, locate: Locate):
        self.shown, self.locate = shown, locate

    def at(self, where: JsonPath) -> dict[str, Any]:
        line, column = self.locate(where)
        return {"path": self.shown, "line": line, "column": column}


def _count(quantity: Any) -> int:
    """An extended resource's count (a whole number, as a string or an int); anything else is 0."""
    if isinstance(quantity, bool):
        return 0
    if isinstance(quantity, int):
        return quantity
    return int(quantity) if isinstance(quantity, str) and quantity.strip().isdigit() else 0


def _at(data: Any, where: JsonPath) -> Any:
    for part in where:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
