"""``kubernetes``: the workloads of Kubernetes manifests, before any pod exists.

Config (``providers.kubernetes`` in ``wfgy.yaml``; paths relative to it)::

    providers:
      kubernetes:
        paths: ["deploy/**/*.yaml"]     # files, directories or globs; "-" reads stdin:
                                        #   helm template . | wfgy-rules eval   (paths: ["-"])
        declared_env: .env.example      # the declared env (as env.declared): misspelt names
        required_secrets: [OPENAI_API_KEY]   # env / file names serving workloads must get from a Secret
        secrets: {llm-keys: [OPENAI_API_KEY]}   # keys of Secrets made outside these manifests
        expose: [LOG_LEVEL]             # the only env vars whose literal values appear in facts
        serving_pattern: "vllm|…"       # a regex over images, commands and args (default below)

Directories and globs contribute their ``.yaml``, ``.yml`` and ``.json`` files (a file named
outright is read whatever its name). Files may hold several documents (``---``): the output of ``helm template`` and
``kustomize build`` is read as it is. A file that is not valid YAML is listed in ``errors``
(with its line) and the other files are still read; so is a path that matches no file
(``kubernetes path deploy/**/*.yaml matches no file (relative to wfgy.yaml)``).

Facts (``kubernetes.*``)::

    configured: true                 # false when no paths are configured
    files: [deploy/llm.yaml]         # the files read ("-" for stdin)
    errors: [{path, line, column, message}]
    secrets: {llm-keys: {keys: [OPENAI_API_KEY], path, line, column}}   # names and keys only
    required_secrets: [OPENAI_API_KEY]
    workloads:
      - kind: Deployment
        name: llm
        namespace: null
        label: deployment/llm
        path: deploy/llm.yaml        # where the object starts
        line: 3
        column: 1
        serving: true                # long-running and an image or command names a model
                                     # server; annotation wfgy-rules.io/serving: "true"|"false" overrides
        gpu: 1                       # nvidia.com/gpu (and MIG slices) over the app containers
        gate: {present: true, via: init_container|entrypoint|image_entrypoint, container: wfgy-preflight}
        containers:                  # and init_containers, the same shape
          - name: server
            image: vllm/vllm-openai:v0.6.3
            runs_preflight: false
            env:                     # source: literal|secret|config_map|field|resource_field
              - {name: OPENAI_API_KEY, source: secret, secret: llm-keys, key: OPENAI_API_KEY, optional: false, path, line, column, workload, container}
              - {name: LOG_LEVEL, source: literal, empty: false, value: info}   # value only if exposed
                                     # every entry also has credential_name (named *_KEY, *_TOKEN, …)
            env_from: [{source: secret, name: llm-keys, prefix: "", optional: false, …}]
            env_names: [LOG_LEVEL, OPENAI_API_KEY]
            resources: {requests: {}, limits: {nvidia.com/gpu: 1}}
            gpu: 1
            ports: [8000]
            security_context: {}
        secret_volumes: [{volume, secret, optional, items: null | [{key, path}], mounts: [{container, mount_path, read_only, …}], path, line, column}]
        secret_refs:                 # every reference to a Secret, by env, envFrom or volume
          - {secret: llm-keys, key: OPENAI_API_KEY, via: env, optional: false, declared: true, key_declared: true, path, line, column, workload, container}
        near_misses:                 # the env provider's judgement, per container
          - {declared: OPENAI_API_KEY, found: OPEN_API_KEY, via: alias, known: false, …, path, line, column, workload, container}
        missing_secrets: []          # required_secrets this workload gets from no Secret
        opaque_secret_sources: []    # Secrets of unknown keys (envFrom, a whole-volume mount):
                                     # they may hold anything, so missing_secrets stays empty
        labels, node_selector, tolerations, security_context, service_account

A Secret is *declared* when these manifests hold it (kind: Secret) or ``secrets`` names it;
only then can a reference to a key it lacks be judged (``key_declared: false``).

Values never become facts: literal env values only for names in ``expose`` (refused, as in
the ``env`` provider and by the same test, `wfgy_rules.providers.env.credentials`: a name
declared secret in ``declared_env`` or that looks like a credential, a value that holds one
anywhere: any known key shape, a URL with ``user:password@``), no Secret data, and no
``command``/``args`` (they can hold ``--api-key sk-…``): only ``runs_preflight`` and
``serving`` are derived from them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfgy_rules.documents.yamlio import load_stream, max_file_bytes, read_text
from wfgy_rules.errors import PolicyError, ProviderError
from wfgy_rules.providers.kubernetes import workloads as k8s_workloads
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.env.credentials import check_exposable
from wfgy_rules.providers.env.env import CONFIG_SCHEMA as ENV_SCHEMA
from wfgy_rules.providers.env.env import EnvProvider, declared_secret_names
from wfgy_rules.providers.file_globs import matched_files

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
STDIN = "-"
DEFAULT_SERVING_PATTERN = (
    r"(?i)(?:^|[^a-z0-9])(?:vllm|text-generation-(?:inference|launcher)|tgi|sglang|tritonserver|lmdeploy"
    r"|llama[.-]?cpp|llama-server|ollama|tensorrt[-_]llm|trtllm|aphrodite|lorax)(?:[^a-z0-9]|$)"
)

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
                         "description": "The declared environment, as env.declared: a .env.example-style file or a list. Misspelt env names in the manifests are judged against it."},
        "required_secrets": {
            "title": "Required secrets",
            "description": "Env or file names every serving workload must get from a Secret (env secretKeyRef, envFrom, or a secret volume).",
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
        "serving_pattern": {
            "title": "Serving pattern",
            "description": "A regular expression over images, commands and args that marks a long-running workload as a model server.",
            "type": "string",
            "minLength": 1,
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
    settings = _settings(config, ctx)
    declared: dict[str, dict[str, Any]] = {}
    raw = []
    for document in documents:
        for where, obj in k8s_workloads.objects(document.data):
            if obj.get("kind") == "Secret" and str(obj.get("apiVersion", "v1")) == "v1":
                name = str(_mapping(obj.get("metadata")).get("name", ""))
                line, column = document.locate(where)
                declared[name] = {"keys": k8s_workloads.secret_keys(obj), "path": document.path, "line": line, "column": column}
            else:
                found = k8s_workloads.workload(obj, where, document.path, document.locate, settings)
                if found is not None:
                    raw.append(found)
    for name, keys in sorted(_mapping(config.get("secrets")).items()):
        declared.setdefault(name, {"keys": sorted(set(keys)), "path": None, "line": None, "column": None})
    required = list(config.get("required_secrets") or [])
    near = _NearMisses(config.get("declared_env"), ctx)
    workloads = [_judged(w, declared, required, near) for w in raw]
    return {
        "configured": configured,
        "files": files or [],
        "errors": errors or [],
        "secrets": dict(sorted(declared.items())),
        "required_secrets": required,
        "workloads": workloads,
    }


def _settings(config: Mapping[str, Any], ctx: ProviderContext) -> k8s_workloads.Settings:
    expose = frozenset(config.get("expose") or [])
    secret = declared_secret_names(config.get("declared_env"), ctx) | ctx.secret_names if expose else frozenset()
    for name in sorted(expose):
        check_exposable(name, secret_names=secret)
    try:
        serving = re.compile(config.get("serving_pattern") or DEFAULT_SERVING_PATTERN)
    except re.error as exc:
        raise ProviderError(f"serving_pattern is not a valid regular expression: {exc}") from None
    return k8s_workloads.Settings(expose, serving)


def _judged(w: dict[str, Any], declared: Mapping[str, dict[str, Any]], required: list[str], near: _NearMisses) -> dict[str, Any]:
    """A workload with what needs the declared secrets and env: refs, near misses, missing secrets."""
    refs: list[dict[str, Any]] = []
    provided: set[str] = set()
    opaque: set[str] = set()
    everyone = [*w["init_containers"], *w["containers"]]
    for c in everyone:
        for e in c["env"]:
            if e["source"] == "secret":
                refs.append(_ref(e["secret"], e["key"], "env", e, declared))
                provided.add(e["name"])
        for e in c["env_from"]:
            if e["source"] != "secret":
                continue
            refs.append(_ref(e["name"], None, "env_from", e, declared))
            if e["name"] in declared:
                provided.update(e["prefix"] + k for k in declared[e["name"]]["keys"])
            else:
                opaque.add(str(e["name"]))
    for v in w["secret_volumes"]:
        if not v["mounts"]:
            continue
        keys = [i["key"] for i in v["items"]] if v["items"] is not None else None
        for key in keys if keys is not None else [None]:
            refs.append(_ref(v["secret"], key, "volume", {**v, "workload": w["label"], "container": v["mounts"][0]["container"]}, declared))
        if v["items"] is not None:
            provided.update(str(i["path"]).rsplit("/", 1)[-1] for i in v["items"])
        elif v["secret"] in declared:
            provided.update(declared[v["secret"]]["keys"])
        else:
            opaque.add(str(v["secret"]))
    misses = [m for c in everyone for m in near.of(c)]
    return {
        **w,
        "secret_refs": refs,
        "near_misses": misses,
        "missing_secrets": [] if opaque else [name for name in required if name not in provided],
        "opaque_secret_sources": sorted(opaque),
    }


def _ref(secret: Any, key: Any, via: str, at: Mapping[str, Any], declared: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    known = secret in declared
    return {
        "secret": secret,
        "key": key,
        "via": via,
        "optional": bool(at.get("optional", False)),
        "declared": known,
        "key_declared": (key in declared[secret]["keys"]) if known and key is not None else None,
        "workload": at.get("workload"),
        "container": at.get("container"),
        "path": at.get("path"),
        "line": at.get("line"),
        "column": at.get("column"),
    }


class _NearMisses:
    """Misspelt env names of a container, judged by the env provider itself (its alias table
    and similarity rule) over the container's env names: the one call into ``env``."""

    def __init__(self, declared: Any, ctx: ProviderContext):
        self.declared, self.ctx = declared, ctx
        self.cache: dict[frozenset[str], list[dict[str, Any]]] = {}

    def of(self, container: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.declared:
            return []
        names = frozenset(container["env_names"])
        if names not in self.cache:
            ctx = ProviderContext(base_dir=self.ctx.base_dir, environ=dict.fromkeys(names, ""), secret_names=self.ctx.secret_names)
            self.cache[names] = EnvProvider().collect({"declared": self.declared, "detect_kinds": False}, ctx)["near_misses"]
        where = {e["name"]: e for e in container["env"]}
        return [{**m, **{k: where[m["found"]][k] for k in ("workload", "container", "path", "line", "column")}}
                for m in self.cache[names] if m["found"] in where]


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
