"""``kubernetes``: the workloads of Kubernetes manifests, before any pod exists.

Config (``providers.kubernetes`` in ``wfgy.yaml``; paths relative to it)::

    providers:
      kubernetes:
        paths: ["deploy/**/*.yaml"]     # files, directories or globs; "-" reads stdin:
                                        #   helm template . | wfgy-rules eval   (paths: ["-"])
        declared_env: .env.example      # the declared env (as env.declared; default: env.declared)
        required_secrets: [OPENAI_API_KEY]   # env / file names serving workloads must get from a Secret
        secrets: {llm-keys: [OPENAI_API_KEY]}   # keys of Secrets made outside these manifests
        expose: [LOG_LEVEL]             # the only env vars whose literal values appear in facts

Directories and globs contribute their ``.yaml``, ``.yml`` and ``.json`` files (a file named
outright is read whatever its name). Files may hold several documents (``---``): the output of ``helm template`` and
``kustomize build`` is read as it is. A file that is not valid YAML is listed in ``errors``
(with its line) and the other files are still read; so is a path that matches no file
(``kubernetes path deploy/**/*.yaml matches no file (relative to wfgy.yaml)``).

**Kinds read** (`wfgy_rules.providers.kubernetes.pod_templates`): Pod, Deployment,
StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, LeaderWorkerSet and
DisaggregatedSet (leader and worker templates), KServe InferenceService (predictor,
transformer, explainer, with the model runtime's container), ServingRuntime,
ClusterServingRuntime, LLMInferenceService, RayService, RayCluster, RayJob (head and worker
groups), Knative Service and Configuration, Argo Rollout, and any object with
``spec.template.spec.containers``. An object of another kind that is not known to hold no pod
(Service, ConfigMap, RBAC, Gateway API, …) is listed in ``unread``, never skipped silently.

**Servers** are recognised by what a container runs (`wfgy_rules.providers.serving.servers`):
its command and args, else its image's known ENTRYPOINT, parsed by the serving launch
parser. Each container says why it is or is not one (``serving``, ``serving_reason``).

**The declared env** is ``declared_env`` when set, else ``providers.env.declared`` (the same
file the Boot Checkpoint reads); ``declared_env.from`` says which, or null (the misspelling
rules then skip).

Facts (``kubernetes.*``)::

    configured: true                 # false when no paths are configured
    files: [deploy/llm.yaml]         # the files read ("-" for stdin)
    errors: [{path, line, column, message}]
    unread: [{kind, api_version, name, path, line, column}]   # objects of kinds not read
    declared_env: {from: env.declared}   # kubernetes.declared_env | env.declared | null
    secrets: {llm-keys: {keys: [OPENAI_API_KEY], path, line, column}}   # names and keys only
    required_secrets: [OPENAI_API_KEY]
    model: {present, located, path, name_or_path, shape: {…}, absent_because}   # the config's model directory
    workloads:
      - kind: LeaderWorkerSet
        name: vllm
        role: leader                 # null for a single pod template
        label: leaderworkerset/vllm (leader)
        namespace: null
        path: deploy/llm.yaml        # where the object starts
        line: 3
        column: 1
        serving: true                # long-running and a container is a model server; annotation
                                     # wfgy-rules.io/serving: "true"|"false" overrides
        long_running: true           # false for Job, CronJob, RayJob
        group_size: 2                # pods serving one launch (LeaderWorkerSet size)
        multi_node: false            # Ray, KServe workerSpec: GPU counts not judged per pod
        host_ipc: false
        gpu: 8                       # nvidia.com/gpu (and MIG slices) over the app containers
        gate: {present: true, via: init_container|entrypoint|image_entrypoint, container: wfgy-preflight}
        volumes: [{name: dshm, type: emptyDir, medium: Memory, size_limit: 15Gi, mounts: […], path, line, column}]
        containers:                  # and init_containers, the same shape (without serving)
          - name: server
            image: vllm/vllm-openai:v0.8.5
            runs_preflight: false
            serving: {engine: vllm, via: command, launch_via: "vllm serve", launch: {…parse_launch…}}
            serving_reason: "the command starts vllm (vllm serve)"   # or why it is not a server
            fit: {tensor_parallel_size: 8, gpus_needed: 16, gpus_available: 16, gpus_judged: true,
                  dev_shm: true, dev_shm_from: "emptyDir medium Memory volume dshm at /dev/shm", …}
            env:                     # source: literal|secret|config_map|field|resource_field
              - {name: OPENAI_API_KEY, source: secret, secret: llm-keys, key: OPENAI_API_KEY, optional: false, path, line, column, workload, container}
              - {name: LOG_LEVEL, source: literal, empty: false, references: [], only_references: false, value: info}
                                     # value only if exposed; every entry has credential_name
            env_from: [{source: secret, name: llm-keys, prefix: "", optional: false, …}]
            env_names: [LOG_LEVEL, OPENAI_API_KEY]
            resources: {requests: {}, limits: {nvidia.com/gpu: 8}}
            gpu: 8
            accelerators: {count: 8, resources: [nvidia.com/gpu], counted: true}
            volume_mounts: [{volume: dshm, mount_path: /dev/shm, read_only: false, sub_path: null, …}]
            ports: [8000]
            security_context: {}
        secret_volumes: [{volume, secret, optional, items: null | [{key, path}], mounts: [{container, mount_path, read_only, …}], path, line, column}]
        secret_refs:                 # every reference to a Secret, by env, envFrom or volume
          - {secret: llm-keys, key: OPENAI_API_KEY, via: env, optional: false, declared: true, key_declared: true, path, line, column, workload, container}
        near_misses:                 # the env provider's judgement, per container
          - {declared: OPENAI_API_KEY, found: OPEN_API_KEY, via: alias, known: false, …, path, line, column, workload, container}
        missing_secrets: []          # required_secrets this workload gets from no Secret
        satisfied_by_alias: [{required: HF_TOKEN, found: HUGGING_FACE_HUB_TOKEN, readers, …}]
        opaque_secret_sources: []    # Secrets of unknown keys (envFrom, a whole-volume mount):
                                     # they may hold anything, so missing_secrets stays empty
        labels, node_selector, tolerations, security_context, service_account, dev_shm_implied

A Secret is *declared* when these manifests hold it (kind: Secret) or ``secrets`` names it;
only then can a reference to a key it lacks be judged (``key_declared: false``). The alias
rule for required secrets is `wfgy_rules.providers.kubernetes.secret_refs`'.

Values never become facts: literal env values only for names in ``expose`` (refused, as in
the ``env`` provider and by the same test, `wfgy_rules.providers.env.credentials`: a name
declared secret in the declared env or that looks like a credential, a value that holds one
anywhere: any known key shape, a URL with ``user:password@``), no Secret data, and no
``command``/``args`` (they can hold ``--api-key sk-…``): only ``runs_preflight``, ``serving``
and the parsed launch (which never holds a secret flag's value) are derived from them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfgy_rules.documents.yamlio import load_stream, max_file_bytes, read_text
from wfgy_rules.errors import PolicyError, ProviderError
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.env.credentials import check_exposable
from wfgy_rules.providers.env.env import CONFIG_SCHEMA as ENV_SCHEMA
from wfgy_rules.providers.env.env import declared_secret_names
from wfgy_rules.providers.file_globs import matched_files
from wfgy_rules.providers.kubernetes import workloads as k8s_workloads
from wfgy_rules.providers.kubernetes.container_fit import container_fit, model_facts
from wfgy_rules.providers.kubernetes.containers import Settings
from wfgy_rules.providers.kubernetes.pod_templates import kind_read, pod_templates, runtime_command
from wfgy_rules.providers.kubernetes.secret_refs import NearMisses, judged

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
STDIN = "-"

CONFIG_SCHEMA: dict[str, Any] = {
    "title": "kubernetes provider",
    "description": "Workloads of Kubernetes manifests (files, directories, globs, or '-' for stdin).",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "paths": {
            "title": "Manifests",
            "description": "Files, directories or globs relative to wfgy.yaml; '-' reads stdin (helm template, kustomize build).",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
        "declared_env": {**ENV_SCHEMA["properties"]["declared"], "title": "Declared env",
                         "description": "The declared environment, as env.declared: a .env.example-style file or a list. Misspelt env names in the manifests are judged against it. Default: providers.env.declared."},
        "required_secrets": {
            "title": "Required secrets",
            "description": "Env or file names every serving workload must get from a Secret (env secretKeyRef, envFrom, or a secret volume), under that name or an alias the same tools read (HUGGING_FACE_HUB_TOKEN for HF_TOKEN).",
            "type": "array",
            "items": {"type": "string", "pattern": NAME_PATTERN},
        },
        "secrets": {
            "title": "Secrets made elsewhere",
            "description": "Secret name → its keys, for Secrets not in these manifests (External Secrets, Vault, kubectl).",
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "expose": {
            "title": "Exposed env values",
            "description": "Env var names whose literal values may appear in facts (never credentials).",
            "type": "array",
            "items": {"type": "string", "pattern": NAME_PATTERN},
        },
    },
}


class KubernetesProvider:
    """Workload facts from Kubernetes manifests (see the module docstring)."""

    config_schema = CONFIG_SCHEMA

    def collect(self, config: Mapping[str, Any], ctx: ProviderContext, stdin: Any = None) -> dict[str, Any]:
        paths = list(config.get("paths") or [])
        documents, files, errors = [], [], []
        for shown, text in _sources(paths, ctx, stdin, errors):
            files.append(shown)
            try:
                documents.extend(load_stream(text, shown))
            except PolicyError as exc:
                errors.extend({"path": p.path, "line": p.line, "column": p.column, "message": p.message} for p in exc.problems)
        return facts_from_documents(documents, config, ctx, configured=bool(paths), files=files, errors=errors)


def facts_from_documents(documents: list[Any], config: Mapping[str, Any], ctx: ProviderContext, configured: bool = True,
                         files: list[str] | None = None, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The provider's facts over parsed documents (`yamlio.Document`s or anything with
    ``path``, ``data`` and ``locate``): the webhook judges an AdmissionReview's object this way."""
    declared_env, declared_from = _declared_env(config, ctx)
    settings = _settings(config, declared_env, ctx)
    found = [(document, where, obj) for document in documents for where, obj in k8s_workloads.objects(document.data)]
    runtimes = dict(filter(None, (runtime_command(obj) for _, _, obj in found)))
    declared: dict[str, dict[str, Any]] = {}
    raw, unread = [], []
    for document, where, obj in found:
        line, column = document.locate(where)
        if obj.get("kind") == "Secret" and str(obj.get("apiVersion", "v1")) == "v1":
            name = str(_mapping(obj.get("metadata")).get("name", ""))
            declared[name] = {"keys": k8s_workloads.secret_keys(obj), "path": document.path, "line": line, "column": column}
            continue
        templates = pod_templates(obj, runtimes)
        if templates is None:
            if kind_read(obj) == "unread":
                unread.append({"kind": obj.get("kind"), "api_version": obj.get("apiVersion"),
                               "name": _mapping(obj.get("metadata")).get("name"), "path": document.path, "line": line, "column": column})
            continue
        raw += [k8s_workloads.workload(obj, t, where, document.path, document.locate, settings) for t in templates]
    for name, keys in sorted(_mapping(config.get("secrets")).items()):
        declared.setdefault(name, {"keys": sorted(set(keys)), "path": None, "line": None, "column": None})
    required = list(config.get("required_secrets") or [])
    near = NearMisses(declared_env, ctx)
    model = model_facts(ctx)
    workloads = [judged(w, declared, required, near) for w in raw]
    for w in workloads:
        for c in w["containers"]:
            c["fit"] = container_fit(w, c, model) if c.get("serving") else None
    return {
        "configured": configured,
        "files": files or [],
        "errors": errors or [],
        "unread": unread,
        "declared_env": {"from": declared_from},
        "secrets": dict(sorted(declared.items())),
        "required_secrets": required,
        "model": model,
        "workloads": workloads,
    }


def _declared_env(config: Mapping[str, Any], ctx: ProviderContext) -> tuple[Any, str | None]:
    """The declared env (``declared_env``, else ``providers.env.declared``) and which it is."""
    if config.get("declared_env"):
        return config["declared_env"], "kubernetes.declared_env"
    shared = _mapping(ctx.settings.get("env")).get("declared")
    return (shared, "env.declared") if shared else (None, None)


def _settings(config: Mapping[str, Any], declared_env: Any, ctx: ProviderContext) -> Settings:
    expose = frozenset(config.get("expose") or [])
    secret = declared_secret_names(declared_env, ctx) | ctx.secret_names if expose else frozenset()
    for name in sorted(expose):
        check_exposable(name, secret_names=secret)
    return Settings(expose)


def _sources(paths: list[str], ctx: ProviderContext, stdin: Any, errors: list[dict[str, Any]]):
    """(shown path, text) of every manifest: "-" is stdin, the rest are globs, files or directories."""
    patterns = [p for p in paths if p != STDIN]
    if STDIN in paths:
        yield STDIN, _read_stdin(stdin)
    unlistable = lambda shown, reason: errors.append({"path": shown, "line": None, "column": None, "message": reason})  # noqa: E731
    named = {str(ctx.resolve(p)) for p in patterns if ctx.resolve(p).is_file()}
    for shown, path in matched_files(patterns, ctx, unlistable, setting="kubernetes path"):
        if path not in named and Path(path).suffix not in (".yaml", ".yml", ".json"):
            continue
        try:
            yield shown, read_text(Path(path), shown)
        except PolicyError as exc:
            errors.extend({"path": p.path, "line": p.line, "column": p.column, "message": p.message} for p in exc.problems)


def _read_stdin(stream: Any) -> str:
    """stdin, bounded by WFGY_MAX_FILE_BYTES, as UTF-8 text."""
    stream = stream if stream is not None else sys.stdin.buffer
    limit = max_file_bytes()
    raw = stream.read(limit + 1)
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > limit:
        raise ProviderError(f"stdin is over the {limit}-byte limit (WFGY_MAX_FILE_BYTES)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProviderError("stdin is not UTF-8 text") from None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
