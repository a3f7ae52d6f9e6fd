"""Where a Kubernetes object keeps its pods: the pod specs of every kind the provider reads.

The kinds are data (``kinds.yaml`` beside this module): the core workloads (Pod, Deployment,
StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob), LeaderWorkerSet
(leader and worker templates, with the group size), DisaggregatedSet, KServe's
InferenceService (predictor, transformer and explainer, each with its framework or
``model`` container), ServingRuntime and ClusterServingRuntime, LLMInferenceService, KubeRay's
RayService, RayCluster and RayJob (head and worker groups), Knative Service and
Configuration, Argo Rollout; and, generically, any object with ``spec.template.spec.containers``.

`pod_templates(obj, runtimes)` gives one `Template` per pod spec, or None when the object is of
a kind that is not read (`kind_read` says whether such a kind is one known to hold no pod,
like a Service or a ConfigMap, or one to report). An InferenceService's framework container
(``predictor.huggingface``, ``predictor.model`` with ``modelFormat``) runs the command of its
runtime: the ServingRuntime of that name when these manifests hold it (``runtimes``), else
the runtime KServe picks for the format (`wfgy_rules.providers.serving.servers.kserve_runtime`).
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfgy_rules.documents.yamlio import load_file
from wfgy_rules.providers.serving.servers import kserve_runtime, kserve_runtimes

TABLE_PATH = Path(__file__).with_name("kinds.yaml")
GENERIC_POD = ("spec", "template", "spec")
KSERVE_FRAMEWORKS = ("model", "huggingface", "pytorch", "tensorflow", "triton", "onnx", "sklearn", "xgboost",
                     "lightgbm", "pmml", "paddle")
JsonPath = tuple


@dataclass(frozen=True)
class Implied:
    """What a controller fills into a container the manifest leaves bare (a command, /dev/shm)."""

    container: str | None  # the container's name (None: the KServe framework container)
    command: tuple[str, ...]
    via: str
    dev_shm: bool = False


@dataclass(frozen=True)
class Serves:
    """A template whose containers the object makes model servers (Ray Serve's replicas)."""

    server: str
    via: str


@dataclass(frozen=True)
class Container:
    """A container the pod spec does not list where a PodSpec would (KServe's framework container)."""

    where: JsonPath
    spec: Mapping[str, Any]


@dataclass(frozen=True)
class Template:
    role: str | None
    where: JsonPath  # the pod spec, from the object's root
    pod: Mapping[str, Any]
    meta: Mapping[str, Any]  # the template's metadata (labels, annotations), {} if none
    group_size: int  # pods that serve together (a LeaderWorkerSet group)
    long_running: bool
    multi_node: bool  # the serving processes span pods the spec does not count (Ray, workerSpec)
    implied: Implied | None = None
    extra: tuple[Container, ...] = field(default_factory=tuple)
    credentials_from: tuple[str, ...] = ()  # where its Secrets come from besides the spec
    serves: Serves | None = None


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    return load_file(TABLE_PATH).data


def kind_read(obj: Mapping[str, Any]) -> str:
    """``workload`` (its pods are read), ``no_pods`` (a kind that holds none) or ``unread``."""
    if _row(obj) is not None or isinstance(_at(obj, (*GENERIC_POD, "containers")), list):
        return "workload"
    group = _group(obj)
    for row in _table()["no_pods"]:
        if (obj.get("kind") in row["kinds"] or row["kinds"] == ["*"]) and fnmatch.fnmatchcase(group, row["group"]):
            return "no_pods"
    return "unread"


def pod_templates(obj: Mapping[str, Any], runtimes: Mapping[str, tuple[str, ...]]) -> list[Template] | None:
    """Every pod spec of ``obj`` (see the module docstring); None when its kind is not read.
    ``runtimes``: ServingRuntime name -> the command its container runs."""
    row = _row(obj)
    if row is None:
        pod = _at(obj, GENERIC_POD)
        if isinstance(pod, dict) and isinstance(pod.get("containers"), list):
            return [Template(None, GENERIC_POD, pod, _mapping(_at(obj, GENERIC_POD[:-1] + ("metadata",))), 1, True, False)]
        return None
    found = []
    for spec in row["templates"]:
        for where, pod, element in _expand(obj, spec["pod"]):
            if not isinstance(pod, dict):
                continue
            size = _group_size(obj, spec.get("group_size"), where)
            meta = _mapping(_at(obj, where[:-1] + ("metadata",))) if where[-1] == "spec" and len(where) > 1 else {}
            role = spec["role"].format_map(_Missing(element)) if spec.get("role") else None
            implied = _implied(row.get("implied"))
            extra: tuple[Container, ...] = ()
            multi_node = bool(row.get("multi_node")) or isinstance(pod.get("workerSpec"), dict) or (
                "multi_node_when" in row and _at(obj, tuple(row["multi_node_when"].split("."))) is not None)
            credentials = (row["credentials_from"],) if row.get("credentials_from") else ()
            if row.get("service_account_credentials") and isinstance(pod.get("serviceAccountName"), str):
                credentials = (f"service account {pod['serviceAccountName']} (KServe's storage initializer reads its Secrets)",)
            if row.get("reader") == "kserve":
                extra, implied = _kserve_containers(pod, where, runtimes)
            elif row.get("reader") == "kserve-runtime":
                implied = _runtime_default(obj)
            serves = spec.get("serves")
            served = Serves(serves["server"], serves["when"].rsplit(".", 1)[-1]) if serves and _at(obj, tuple(serves["when"].split("."))) else None
            found.append(Template(role, where, pod, meta, size,
                                  row.get("long_running", True), multi_node, implied, extra, credentials, served))
    return found


def runtime_command(obj: Mapping[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    """(name, the command its serving container runs) of a ServingRuntime / ClusterServingRuntime."""
    if obj.get("kind") not in ("ServingRuntime", "ClusterServingRuntime") or _group(obj) != "serving.kserve.io":
        return None
    containers = [c for c in _list(_at(obj, ("spec", "containers"))) if isinstance(c, dict)]
    main = next((c for c in containers if c.get("name") == "kserve-container"), containers[0] if containers else None)
    if main is None:
        return None
    command = _list(main.get("command")) or list((_runtime_default(obj) or Implied(None, (), "")).command)
    return str(_mapping(obj.get("metadata")).get("name", "")), tuple(str(w) for w in (*command, *_list(main.get("args"))))


def _runtime_default(obj: Mapping[str, Any]) -> Implied | None:
    """KServe's own runtimes (kserve-huggingfaceserver, …) ship their image without a command
    here (the image is filled in at install): the command is the runtime's, by its name."""
    name = str(_mapping(obj.get("metadata")).get("name", ""))
    row = next((r for r in kserve_runtimes() if r.runtime == name), None)
    return Implied("kserve-container", row.command, f"kserve-runtime {row.runtime}") if row else None


def _kserve_containers(component: Mapping[str, Any], where: JsonPath,
                       runtimes: Mapping[str, tuple[str, ...]]) -> tuple[tuple[Container, ...], Implied | None]:
    """A KServe component's framework container and the command its runtime gives it."""
    for key in KSERVE_FRAMEWORKS:
        spec = component.get(key)
        if not isinstance(spec, dict):
            continue
        named = spec.get("runtime") if isinstance(spec.get("runtime"), str) else None
        model_format = str(_mapping(spec.get("modelFormat")).get("name", "")) if key == "model" else key
        if named is not None and named in runtimes:
            implied = Implied(None, runtimes[named], f"kserve-runtime {named}")
        else:
            table = kserve_runtime(model_format) if model_format else None
            usable = table is not None and (named is None or named == table.runtime)
            implied = Implied(None, table.command, f"kserve-runtime {table.runtime}") if usable else None
        return (Container((*where, key), spec),), implied
    return (), None


def _row(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    group = _group(obj)
    for row in _table()["workloads"]:
        if obj.get("kind") == row["kind"] and ("group" not in row or group == row["group"]):
            return row
    return None


def _group(obj: Mapping[str, Any]) -> str:
    """The API group of ``obj`` ("" for the core group: apiVersion v1)."""
    api = str(obj.get("apiVersion", "v1"))
    return api.rsplit("/", 1)[0] if "/" in api else ""


def _implied(spec: Any) -> Implied | None:
    if not isinstance(spec, dict):
        return None
    return Implied(spec["container"], tuple(spec["command"]), "controller default", bool(spec.get("dev_shm")))


def _expand(obj: Any, path: str) -> list[tuple[JsonPath, Any, Mapping[str, Any]]]:
    """(json path, value, innermost list element) of every match of a dotted path with ``[]``."""
    found: list[tuple[JsonPath, Any, Mapping[str, Any]]] = [((), obj, {})]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        step = []
        for where, value, element in found:
            if not isinstance(value, dict) or key not in value:
                continue
            child = value[key]
            if many:
                step += [((*where, key, i), item, _mapping(item)) for i, item in enumerate(_list(child))]
            else:
                step.append(((*where, key), child, element))
        found = step
    return found


def _group_size(obj: Any, path: str | None, where: JsonPath) -> int:
    """The group size at ``path``, its list indexes taken from ``where`` (default 1)."""
    if path is None:
        return 1
    indexes = [part for part in where if isinstance(part, int)]
    value: Any = obj
    for part in path.split("."):
        key = part.removesuffix("[]")
        value = value.get(key) if isinstance(value, dict) else None
        if part.endswith("[]"):
            value = value[indexes.pop(0)] if isinstance(value, list) and indexes else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


class _Missing(dict):
    def __init__(self, element: Mapping[str, Any]):
        super().__init__({k: v for k, v in element.items() if isinstance(v, (str, int))})

    def __missing__(self, key: str) -> str:
        return "?"


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
