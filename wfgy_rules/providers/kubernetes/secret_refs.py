"""What a workload gets from Secrets, against what it must get and the declared env.

`judged(workload, declared, required, near)` adds to a workload's facts:

* ``secret_refs``: every reference to a Secret (env ``secretKeyRef``, ``envFrom``, a secret
  volume), with whether the Secret and the key are declared (in the manifests or in
  ``providers.kubernetes.secrets``);
* ``missing_secrets``: the required names it gets from no Secret, under their own name or an
  alias. **The alias rule**: a required name is satisfied by another name when the env tables
  (``wfgy_rules/providers/env/env_names.yaml``, the one table behind ``boot.env-*`` and
  ``k8s.env-*``) list it as an alias of the required name *and* as a name a tool that reads
  the required name also reads: ``HUGGING_FACE_HUB_TOKEN`` satisfies ``HF_TOKEN``
  (huggingface_hub reads both); ``HUGGINGFACEHUB_API_TOKEN`` does not (only LangChain's
  legacy code reads it; a vLLM pod with it alone cannot download a gated model);
* ``satisfied_by_alias``: each required name satisfied that way, with the alias, the tools that
  read both (``readers``) and where it is;
* ``near_misses``: misspelt env names, judged by the env provider itself (its alias table and
  similarity rule) against the declared env, per container;
* ``opaque_secret_sources``: Secrets of unknown keys (``envFrom``, a whole-volume mount) and
  credentials that come from outside the spec (a KServe runtime's InferenceServices, an
  InferenceService's service account): they may hold anything, so ``missing_secrets`` stays empty.

A literal env value made only of references to variables that come from Secrets
(``HUGGING_FACE_HUB_TOKEN: $(HF_TOKEN)``) comes from those Secrets too.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.env.env import EnvProvider
from wfgy_rules.providers.env.env_tables import tables


def judged(w: dict[str, Any], declared: Mapping[str, dict[str, Any]], required: list[str], near: NearMisses) -> dict[str, Any]:
    """A workload with what needs the declared secrets and env (see the module docstring)."""
    refs: list[dict[str, Any]] = []
    provided: dict[str, dict[str, Any]] = {}  # name -> where it is provided
    opaque: set[str] = set(w.get("credentials_from") or ())
    everyone = [*w["init_containers"], *w["containers"]]
    for c in everyone:
        for e in c["env"]:
            if e["source"] == "secret":
                refs.append(_ref(e["secret"], e["key"], "env", e, declared))
                provided.setdefault(e["name"], e)
        for e in c["env_from"]:
            if e["source"] != "secret":
                continue
            refs.append(_ref(e["name"], None, "env_from", e, declared))
            if e["name"] in declared:
                provided.update({e["prefix"] + k: e for k in declared[e["name"]]["keys"] if e["prefix"] + k not in provided})
            else:
                opaque.add(str(e["name"]))
    for v in w["secret_volumes"]:
        if not v["mounts"]:
            continue
        at = {**v, "workload": w["label"], "container": v["mounts"][0]["container"]}
        keys = [i["key"] for i in v["items"]] if v["items"] is not None else None
        for key in keys if keys is not None else [None]:
            refs.append(_ref(v["secret"], key, "volume", at, declared))
        if v["items"] is not None:
            provided.update({str(i["path"]).rsplit("/", 1)[-1]: at for i in v["items"]})
        elif v["secret"] in declared:
            provided.update({k: at for k in declared[v["secret"]]["keys"]})
        else:
            opaque.add(str(v["secret"]))
    for c in everyone:
        for e in c["env"]:
            if e["source"] == "literal" and e.get("only_references") and all(r in provided for r in e["references"]):
                provided.setdefault(e["name"], e)
    missing, by_alias = [], []
    for name in required:
        if name in provided:
            continue
        alias = next((a for a in read_aliases(name) if a in provided), None)
        if alias is None:
            missing.append(name)
            continue
        at = provided[alias]
        shared = set(tables().readers.get(alias, ())) & set(tables().readers.get(name, ()))
        by_alias.append({"required": name, "found": alias, "readers": sorted(shared),
                         "workload": w["label"], "container": at.get("container"),
                         "path": at.get("path", w["path"]), "line": at.get("line", w["line"]), "column": at.get("column", w["column"])})
    return {
        **w,
        "secret_refs": refs,
        "near_misses": [m for c in everyone for m in near.of(c)],
        "missing_secrets": [] if opaque else missing,
        "satisfied_by_alias": [] if opaque else by_alias,
        "opaque_secret_sources": sorted(opaque),
    }


@functools.lru_cache(maxsize=256)
def read_aliases(name: str) -> tuple[str, ...]:
    """The names that stand for ``name`` (see the alias rule in the module docstring)."""
    readers = tables().readers
    wanted = set(readers.get(name, ()))
    return tuple(sorted(found for found, means in tables().aliases.items()
                        if means == name and wanted & set(readers.get(found, ()))))


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


class NearMisses:
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
