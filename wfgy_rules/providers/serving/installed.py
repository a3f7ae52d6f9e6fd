"""What is installed, as the serving engine will see it: read from the packages' files, never imported.

Importing vLLM takes seconds and wants a GPU stack; importing torch to ask for its arch list
can take as long. So every answer here comes from files on disk: a package's directory is
found with `importlib.util.find_spec` (which runs none of its code), its version and
``Requires-Dist`` come from its installed metadata, and its Python sources are parsed with
`ast`, never executed. ``search_path`` (a directory laid out like ``site-packages``) asks
about another environment than this interpreter's, e.g. the engine's own virtualenv.

The four facts::

    transformers_model_types()   # {version: 5.25.0, model_types: [afmoe, …, qwen3, …], source: …/configuration_auto.py}
    engine_architectures("vllm") # {engine: vllm, version: 0.34.0, architectures: [AfmoeForCausalLM, …],
                                 #  removed: {MPTForCausalLM: 0.28.0, …}, plugins: [], source: …/registry.py}
    unsatisfied_requirements("vllm")
                                 # {distribution: vllm, version: 0.34.0, checked: 81,
                                 #  unsatisfied: [{name: torch, specifier: "==2.14.0", installed: 2.13.1}]}
    torch_arches("2.8.0+cu128", "12.8")
                                 # {arch_list: [sm_70, sm_75, sm_80, sm_86, sm_90, sm_100, sm_120],
                                 #  source: "table: torch 2.8 cu128"}

Each returns None when the package is not installed. A list that cannot be read for sure is
null rather than partial (``model_types: null``, ``architectures: null``): a name missing from
a half-read registry would fail a model the engine serves.

**transformers** knows a ``model_type`` when it is a key of ``CONFIG_MAPPING_NAMES``
(``models/auto/configuration_auto.py``; from transformers 5 the literal lives in
``auto_mappings.py`` and is extended there). ``AutoConfig`` refuses any other type unless
the checkpoint brings its own code (``auto_map`` with ``--trust-remote-code``).

**vLLM** lists an architecture in ``_VLLM_MODELS`` of ``vllm/model_executor/models/registry.py``;
``removed`` is its ``_PREVIOUSLY_SUPPORTED_MODELS`` (the last release that served each) and
``plugins`` the installed ``vllm.general_plugins`` entry points, which may register more
architectures at start-up. **SGLang** registers the ``EntryClass`` of every module directly in
``sglang/srt/models/`` (only the ``EntryClass = …`` statement and the imports are parsed, so 250
modules cost milliseconds). Both engines can run some unlisted architectures through
transformers' own modelling code (vLLM's ``TransformersForCausalLM`` is in its list), so a
missing name is a sure failure only where that fallback cannot apply either. What the
environment changes is not read here: SGLang skips the modules named in
``SGLANG_DISABLED_MODEL_ARCHS`` and also registers ``SGLANG_EXTERNAL_MODEL_PACKAGE``'s models;
vLLM loads only the plugins ``VLLM_PLUGINS`` names when it is set.

**Requirements** are the engine's ``Requires-Dist`` with markers evaluated for this interpreter
and no extras, each checked against the installed version (pre-releases and local versions
count as pip counts them: ``2.14.0+cu128`` satisfies ``==2.14.0``). A torch other than the one
vLLM pins is how ``undefined symbol`` errors start. Lines that are not valid requirements, and
installed versions that are not PEP 440, are not judged.

**torch arch lists** (`torch_arches`, `covers`, `covering_arch`, `probe_torch_arches`) are
`wfgy_rules.providers.serving.torch_builds`, named here too so the engine's view is one module.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.metadata
import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from wfgy_rules.providers.serving.python_source import DictReader, import_aliases, line_starts, statement_at
from wfgy_rules.providers.serving.torch_builds import covering_arch, covers, probe_torch_arches, torch_arches

__all__ = ["covering_arch", "covers", "engine_architectures", "probe_torch_arches", "torch_arches",
           "transformers_knows", "transformers_model_types", "unsatisfied_requirements"]

VLLM_REGISTRY = "model_executor/models/registry.py"
SGLANG_MODELS = "srt/models"
_ENTRY_CLASS = re.compile(r"EntryClass\s*[:=]")


# --- finding packages and their metadata ------------------------------------------------------

def _package_dir(name: str, search_path: Path | None) -> Path | None:
    """The directory ``import name`` would load (from ``search_path`` when given); nothing runs."""
    if search_path is None:
        spec = importlib.util.find_spec(name)
    else:
        spec = importlib.machinery.PathFinder.find_spec(name, [str(search_path)])
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def _distribution(name: str, search_path: Path | None) -> importlib.metadata.Distribution | None:
    if search_path is None:
        try:
            return importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            return None
    return next(iter(importlib.metadata.distributions(name=name, path=[str(search_path)])), None)


def _version(name: str, search_path: Path | None) -> str | None:
    dist = _distribution(name, search_path)
    return dist.version if dist is not None else None


# --- transformers ----------------------------------------------------------------------------

def transformers_model_types(search_path: Path | None = None) -> dict[str, Any] | None:
    """``{version, model_types, source}``: the model types the installed transformers' AutoConfig knows."""
    package = _package_dir("transformers", search_path)
    if package is None:
        return None
    source = package / "models" / "auto" / "configuration_auto.py"
    mapping = DictReader(package.parent).mapping(source, "CONFIG_MAPPING_NAMES")
    return {"version": _version("transformers", search_path),
            "model_types": sorted(mapping) if mapping is not None else None, "source": str(source)}


def transformers_knows(model_type: str, search_path: Path | None = None) -> dict[str, Any] | None:
    """``{version, knows}``: whether the installed transformers' AutoConfig knows ``model_type``
    (``knows`` None when its registry cannot be read with certainty). The common answer, yes,
    costs a text search: a registry entry ``("llama", "LlamaConfig")`` is found in the source
    without parsing it; only a type not found that way is looked up in the parsed mapping."""
    package = _package_dir("transformers", search_path)
    if package is None:
        return None
    auto = package / "models" / "auto"
    entry = re.compile(r"[(\[]\s*[\"']" + re.escape(model_type) + r"[\"']\s*,\s*[\"'][A-Za-z_]\w*Config[\"']")
    for name in ("configuration_auto.py", "auto_mappings.py"):
        try:
            if entry.search((auto / name).read_text(encoding="utf-8")):
                return {"version": _version("transformers", search_path), "knows": True}
        except (OSError, UnicodeDecodeError):
            continue
    found = transformers_model_types(search_path)
    types = found["model_types"] if found else None
    return {"version": found["version"] if found else None, "knows": model_type in types if types is not None else None}


# --- engines' architecture registries -----------------------------------------------------------

def engine_architectures(engine: str, search_path: Path | None = None) -> dict[str, Any] | None:
    """``{engine, version, architectures, removed, plugins, source}`` of an installed ``vllm`` or ``sglang``."""
    if engine not in ("vllm", "sglang"):
        raise ValueError(f"unknown engine {engine!r}: expected vllm or sglang")
    package = _package_dir(engine, search_path)
    if package is None:
        return None
    if engine == "vllm":
        source = package / VLLM_REGISTRY
        reader = DictReader(package.parent)
        listed = reader.mapping(source, "_VLLM_MODELS")
        removed = reader.mapping(source, "_PREVIOUSLY_SUPPORTED_MODELS") or {}
        architectures = sorted(listed) if listed is not None else None
        gone = {arch: last for arch, last in sorted(removed.items()) if isinstance(last, str)}
        plugins = _entry_point_names("vllm.general_plugins", search_path)
    else:
        source = package / SGLANG_MODELS
        found = _sglang_entry_classes(source)
        architectures = sorted(found) if found is not None else None
        gone, plugins = {}, []
    return {"engine": engine, "version": _version(engine, search_path), "architectures": architectures,
            "removed": gone, "plugins": plugins, "source": str(source)}


def _entry_point_names(group: str, search_path: Path | None) -> list[str]:
    dists = importlib.metadata.distributions(**({} if search_path is None else {"path": [str(search_path)]}))
    return sorted({ep.name for dist in dists for ep in dist.entry_points if ep.group == group})


def _sglang_entry_classes(models: Path) -> set[str] | None:
    """Class names SGLang registers: each top-level module's ``EntryClass`` (a class or a list of them)."""
    if not models.is_dir():
        return None
    names: set[str] = set()
    for module in sorted(models.glob("*.py")):
        text = module.read_text(encoding="utf-8")
        statement = _last_entry_class(text)
        if statement is None:
            continue
        value = statement.value
        entries = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
        if not all(isinstance(e, ast.Name) for e in entries):
            return None  # a computed EntryClass: the registry cannot be read for sure
        aliased = any(f" as {e.id}" in text for e in entries)
        aliases = import_aliases(text) if aliased else {}
        names.update(aliases.get(e.id, e.id) for e in entries)  # `from m import A as B`: registered as A
    return names


def _last_entry_class(text: str) -> ast.Assign | ast.AnnAssign | None:
    """The module's last top-level ``EntryClass = …``, parsed alone (the module is not parsed)."""
    found = None
    for offset in line_starts(text, "EntryClass"):
        statement = statement_at(text, offset) if _ENTRY_CLASS.match(text, offset) else None
        found = statement if isinstance(statement, (ast.Assign, ast.AnnAssign)) else found
    return found


# --- declared requirements -----------------------------------------------------------------------

def unsatisfied_requirements(distribution: str, search_path: Path | None = None) -> dict[str, Any] | None:
    """``{distribution, version, checked, unsatisfied: [{name, specifier, installed}]}`` (None: not installed)."""
    dist = _distribution(distribution, search_path)
    if dist is None:
        return None
    checked, unsatisfied = 0, []
    for requirement in _applicable(dist.requires or []):
        checked += 1
        installed = _version(requirement.name, search_path)
        if installed is None or not _satisfies(requirement, installed):
            unsatisfied.append({"name": requirement.name, "specifier": str(requirement.specifier),
                                "installed": installed})
    return {"distribution": dist.metadata["Name"] or distribution, "version": dist.version,
            "checked": checked, "unsatisfied": unsatisfied}


def _applicable(lines: Iterable[str]) -> Iterable[Requirement]:
    """The requirements that apply to this interpreter when no extra is asked for."""
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            yield requirement


def _satisfies(requirement: Requirement, installed: str) -> bool:
    try:
        version = Version(installed)
    except InvalidVersion:
        return True  # not PEP 440: not judged
    return requirement.specifier.contains(version, prereleases=True)
