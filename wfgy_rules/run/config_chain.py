"""``extends:``: a config built on a base, so CI and the pod share one set of rules.

::

    # wfgy.base.yaml: what every environment shares
    apiVersion: wfgy-rules/v1
    kind: Config
    policies: [builtin, policies]
    rules:
      semvers.torch-version: {severity: high}

    # wfgy.yaml: CI (the file every command finds)
    extends: wfgy.base.yaml
    providers:
      runtime: {model_dir: models/tiny-llama}

The base is loaded first and the extending file merged over it, key by key: **mappings merge**
(``providers``, ``rules``, each ``rules.<id>`` and its ``params``), **everything else is
replaced** by the extending file's value, lists included (``policies``, ``waivers``,
``prompts.paths``, ``secrets.sources``). That is how Helm values files and Kustomize patches
merge, which conftest and Kyverno users write every day, and how an ESLint ``extends`` treats
``rules``: a rule the extending file names is changed there, the base's other rules stay. A
list is never concatenated: to keep the base's waivers and add one, repeat them. A key cannot
be removed by the extending file; leave it out of the base instead. ``null`` is a value like
any other (the schema refuses it where a setting takes none).

A base may extend another (at most `MAX_BASES` deep). ``extends`` names a file relative to
the file that says it (``../wfgy.base.yaml``; no ``${…}``), and paths in each file stay
relative to that file (`wfgy_rules.run.config_paths`). ``apiVersion``/``kind`` may be left
out of any of them. The merged config is checked as one, and each problem points at the file
that wrote the value (``wfgy.base.yaml:7:5: rules.semvers.torch-versoin: …``); a missing
base, a cycle or a chain too deep is one error at the ``extends:`` line that leads there.
The config that was read (the top of the chain) is what ``list``, notes and reports name.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfgy_rules.documents.schema import validate
from wfgy_rules.documents.yamlio import Document, JsonPath, load_file
from wfgy_rules.errors import PolicyError, Problem
from wfgy_rules.jsonvalues import a_type_name
from wfgy_rules.run.config_paths import expand_paths

MAX_BASES = 8
EXTENDS = "extends"


@dataclass(frozen=True)
class ConfigFile:
    """One file of a chain and its directory (resolved), which its paths are relative to."""

    document: Document
    directory: Path


@dataclass(frozen=True)
class ConfigDocument(Document):
    """The merged config of a chain. Its path and positions are those of the file that was
    read; `problem` places each problem in the file that wrote the value."""

    origins: dict[JsonPath, ConfigFile] = field(default_factory=dict, repr=False, compare=False)
    files: tuple[str, ...] = ()  # the chain as shown, from the file that was read to its deepest base

    def origin(self, where: JsonPath) -> ConfigFile:
        """The file that wrote the value at ``where``."""
        return _origin(self.origins, tuple(where))

    def problem(self, where: JsonPath, message: str, key: bool = False) -> Problem:
        return self.origin(where).document.problem(where, message, key)

    def by_file(self, problems: list[Problem]) -> list[Problem]:
        """``problems`` grouped by file in chain order, each file's in their own order."""
        order = {path: index for index, path in enumerate(self.files)}
        return sorted(problems, key=lambda problem: order.get(problem.path, len(order)))


def load_chain(path: Path, environ: Mapping[str, str] | None = None) -> tuple[ConfigDocument, list[Problem]]:
    """The config at ``path`` merged over the bases it extends, its path settings expanded
    (`wfgy_rules.run.config_paths`), and the problems of that expansion. A file that does
    not parse, is not a mapping, or an ``extends`` that cannot be followed is a `PolicyError`."""
    chain = _read(path)
    top = chain[0]
    origins: dict[JsonPath, ConfigFile] = {(): chain[-1]}
    data: Any = _own(chain[-1].document.data)
    for upper in reversed(chain[:-1]):
        data = _merge(data, _own(upper.document.data), (), upper, origins)
    data = copy.deepcopy(data)
    files = tuple(link.document.path for link in chain)
    document = ConfigDocument(top.document.path, data, top.document.values, top.document.keys, top.document.digest, origins, files)
    problems = expand_paths(data, lambda where: _located(document.origin(where)), top.directory, os.environ if environ is None else environ)
    return document, problems


def _located(origin: ConfigFile) -> tuple[Document, Path]:
    return origin.document, origin.directory


def _read(path: Path) -> list[ConfigFile]:
    """The chain, from the file that was read to its deepest base; every file a mapping."""
    chain: list[ConfigFile] = []
    seen: list[Path] = []  # each file, resolved
    shown = str(path)
    while True:
        document = load_file(path, shown)
        if not isinstance(document.data, dict):
            raise PolicyError("invalid config", validate(document, "config"))
        chain.append(ConfigFile(document, path.resolve().parent))
        seen.append(path.resolve())
        if EXTENDS not in document.data:
            return chain
        path, shown = _base(chain, seen, document.data[EXTENDS])


def _base(chain: list[ConfigFile], seen: list[Path], spec: Any) -> tuple[Path, str]:
    """The base the last file of ``chain`` extends, or one `PolicyError` at its ``extends:``."""
    here = chain[-1]
    where = (EXTENDS,)

    def refuse(message: str) -> PolicyError:
        return PolicyError("invalid extends", [here.document.problem(where, message)])

    if not isinstance(spec, str) or not spec:
        raise refuse(f"expected the path of a base config, got {a_type_name(spec) if spec != '' else 'an empty string'}")
    if "$" in spec:
        raise refuse(f"{spec}: extends names a file as written; ${{…}} is expanded only in path settings")
    path = here.directory / spec
    shown = _shown(path, relative=not os.path.isabs(here.document.path))
    if not path.is_file():
        why = "is not a file" if path.exists() else "no such file"
        raise refuse(f"{spec}: {why} (relative to {here.document.path})")
    names = [link.document.path for link in chain]
    if path.resolve() in seen:
        raise refuse(f"{spec}: a cycle: {' → '.join([*names, shown])}")
    if len(chain) > MAX_BASES:
        raise refuse(f"{spec}: more than {MAX_BASES} bases deep: {' → '.join([*names, shown])}")
    return path, shown


def _shown(path: Path, relative: bool) -> str:
    """A base as the file that names it is shown: relative to the working directory (``..``
    included) when that file is, else absolute."""
    target = os.path.normpath(path)
    return os.path.relpath(target, Path.cwd().resolve()).replace(os.sep, "/") if relative else target


def _own(data: dict[str, Any]) -> dict[str, Any]:
    """A file's settings, without its ``extends``."""
    return {key: value for key, value in data.items() if key != EXTENDS}


def _merge(lower: Any, upper: Any, where: JsonPath, file: ConfigFile, origins: dict[JsonPath, ConfigFile]) -> Any:
    """``upper`` (written by ``file``) over ``lower``: mappings key by key, anything else
    replaced; ``origins`` records which file wrote each value."""
    if not (isinstance(lower, dict) and isinstance(upper, dict)):
        for stale in [p for p in origins if p[: len(where)] == where]:
            del origins[stale]
        origins[where] = file
        return upper
    for key in lower:  # what only the lower files wrote keeps its origin
        below = (*where, key)
        origins.setdefault(below, _origin(origins, below))
    origins[where] = file
    merged = dict(lower)
    for key, value in upper.items():
        merged[key] = _merge(lower.get(key), value, (*where, key), file, origins)
    return merged


def _origin(origins: dict[JsonPath, ConfigFile], where: JsonPath) -> ConfigFile:
    while where not in origins:
        where = where[:-1]
    return origins[where]
