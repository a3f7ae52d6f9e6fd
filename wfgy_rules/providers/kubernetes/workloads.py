"""Kubernetes objects → workload facts, for the ``kubernetes`` provider.

One entry per pod spec (`wfgy_rules.providers.kubernetes.pod_templates`: a Deployment's
template, a LeaderWorkerSet's leader and worker, a KServe predictor, a Ray head and each
worker group, …; ``List`` kinds unwrapped) and the keys (never the values) of every Secret.
Every entry carries ``path``/``line``/``column`` so results point into the manifest.

A workload is *serving* when it runs for good (not a Job or CronJob) and one of its
containers is a model server by what it runs (`containers.container_facts`), or when its pod
template says so (annotation ``wfgy-rules.io/serving: "true"``; ``"false"`` says it is not).

Values are kept out on purpose: an env var's literal value appears only when its name is in
``expose`` and the value holds no credential; ``command`` and ``args`` are not facts at all
(only what rules need is derived from them). A Secret contributes its name and its keys
(``data`` and ``stringData``), never its data; a volume its type, medium, size limit and the
Secret or ConfigMap it shows (by name), never its content.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from wfgy_rules.providers.kubernetes.containers import Locate, Positions, Settings, container_facts
from wfgy_rules.providers.kubernetes.pod_templates import Template

JsonPath = tuple
SERVING_ANNOTATION = "wfgy-rules.io/serving"  # "true" / "false": overrides what the containers say
GATE_ANNOTATION = "wfgy-rules.io/gate"  # "image-entrypoint": the image's own ENTRYPOINT runs preflight
KSERVE_CONTAINER = "kserve-container"
VOLUME_TYPES = ("emptyDir", "hostPath", "persistentVolumeClaim", "configMap", "secret", "projected", "csi", "ephemeral",
                "nfs", "downwardAPI", "image")


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


def workload(obj: Mapping[str, Any], template: Template, where: JsonPath, shown: str, locate: Locate, settings: Settings) -> dict[str, Any]:
    """The facts of one pod spec of ``obj`` (``where``: the object's path in its document)."""
    kind = str(obj.get("kind"))
    spec = template.pod
    spec_at = (*where, *template.where)
    meta = _mapping(obj.get("metadata"))
    annotations = {**_mapping(meta.get("annotations")), **_mapping(template.meta.get("annotations"))}
    name = str(meta.get("name") or meta.get("generateName") or "")
    label = f"{kind.lower()}/{name}" + (f" ({template.role})" if template.role else "")
    pos = Positions(shown, locate)
    owner = {"workload": label}
    listed = list(enumerate(_list(spec.get("containers"))))
    merged = {}  # KServe merges a listed kserve-container into the framework container
    if template.extra:
        merged = next((_mapping(c) for _, c in listed if _mapping(c).get("name") == KSERVE_CONTAINER), {})
        listed = [(i, c) for i, c in listed if _mapping(c).get("name") != KSERVE_CONTAINER]
    containers = [container_facts(c, (*spec_at, "containers", i), owner, False, pos, settings, template.implied, template.serves) for i, c in listed]
    containers += [container_facts({"name": KSERVE_CONTAINER, **extra.spec, **merged}, (*where, *extra.where), owner, False, pos, settings, template.implied)
                   for extra in template.extra]
    inits = [container_facts(c, (*spec_at, "initContainers", i), owner, True, pos, settings)
             for i, c in enumerate(_list(spec.get("initContainers")))]
    volumes = [_volume(v, (*spec_at, "volumes", i), pos) for i, v in enumerate(_list(spec.get("volumes")))]
    mounts = [m for c in (*inits, *containers) for m in c["volume_mounts"]]
    for volume in volumes:
        volume["mounts"] = [_mount(m) for m in mounts if m["volume"] == volume["name"]]
    facts: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "role": template.role,
        "namespace": meta.get("namespace"),
        "label": label,
        **pos.at(where),
        "labels": {k: str(v) for k, v in _mapping(template.meta.get("labels") or meta.get("labels")).items()},
        "serving": _serving(template, annotations, containers),
        "long_running": template.long_running,
        "group_size": template.group_size,
        "multi_node": template.multi_node,
        "service_account": spec.get("serviceAccountName"),
        "node_selector": {k: str(v) for k, v in _mapping(spec.get("nodeSelector")).items()},
        "tolerations": [_mapping(t) for t in _list(spec.get("tolerations"))],
        "security_context": _mapping(spec.get("securityContext")),
        "host_ipc": spec.get("hostIPC") is True,
        "dev_shm_implied": bool(template.implied and template.implied.dev_shm),
        "containers": containers,
        "init_containers": inits,
        "volumes": volumes,
        "secret_volumes": _secret_volumes(spec, spec_at, volumes, pos),
        "credentials_from": list(template.credentials_from),
        "gpu": sum(c["gpu"] for c in containers),
        "gate": _gate(inits, containers, annotations),
    }
    return facts


def _serving(template: Template, annotations: Mapping[str, Any], containers: list[dict[str, Any]]) -> bool:
    declared = str(annotations.get(SERVING_ANNOTATION, "")).lower()
    if declared in ("true", "false"):
        return declared == "true"
    return template.long_running and any(c.get("serving") for c in containers)


def _gate(inits: list[dict[str, Any]], containers: list[dict[str, Any]], annotations: Mapping[str, Any]) -> dict[str, Any]:
    for via, group in (("init_container", inits), ("entrypoint", containers)):
        for c in group:
            if c["runs_preflight"]:
                return {"present": True, "via": via, "container": c["name"]}
    if str(annotations.get(GATE_ANNOTATION, "")) == "image-entrypoint":
        return {"present": True, "via": "image_entrypoint", "container": None}
    return {"present": False, "via": None, "container": None}


def _volume(v: Any, where: JsonPath, pos: Positions) -> dict[str, Any]:
    """A volume's name, type and the facts that say what it is (never a Secret's content)."""
    v = _mapping(v)
    kind = next((t for t in VOLUME_TYPES if t in v), next((k for k in v if k != "name"), None))
    source = _mapping(v.get(kind)) if kind else {}
    facts: dict[str, Any] = {"name": str(v.get("name", "")), "type": kind, **pos.at(where)}
    if kind == "emptyDir":
        facts.update(medium=source.get("medium") or "", size_limit=source.get("sizeLimit"))
    elif kind == "hostPath":
        facts.update(host_path=source.get("path"))
    elif kind == "persistentVolumeClaim":
        facts.update(claim=source.get("claimName"))
    elif kind in ("configMap", "secret"):
        facts.update(refers_to=source.get("name") if kind == "configMap" else source.get("secretName"))
    return facts


def _mount(m: Mapping[str, Any]) -> dict[str, Any]:
    return {"container": m["container"], "mount_path": m["mount_path"], "read_only": m["read_only"], "sub_path": m["sub_path"],
            "path": m["path"], "line": m["line"], "column": m["column"]}


def _secret_volumes(spec: Mapping[str, Any], where: JsonPath, volumes: list[dict[str, Any]], pos: Positions) -> list[dict[str, Any]]:
    """Secret volumes and projected volumes' secret sources, with the file names they define."""
    mounts = {v["name"]: v["mounts"] for v in volumes}
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
            name = str(volume.get("name", ""))
            found.append({
                "volume": name,
                "secret": secret,
                "optional": bool(ref.get("optional", False)),
                "items": [{"key": item.get("key"), "path": item.get("path")} for item in items] if "items" in ref else None,
                "mounts": mounts.get(name, []),
                **pos.at(at),
            })
    return found


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
