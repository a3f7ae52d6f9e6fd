"""``wfgy-rules validate [PATH…]``: check files without gathering facts.

Each file is recognised by its ``kind`` (``Policy``, ``Config``, ``PolicyTest``,
``PromptVars``) or, for JSON, by a name containing ``model-card``. A directory contributes
its wfgy-rules files (a top-level ``apiVersion: wfgy-rules/…`` line, and model cards);
Kubernetes manifests, workflows and other YAML living beside them are left alone. A file
named explicitly must be one of the kinds above. Policies go through the
very loader ``eval`` uses, cross-checked together (duplicate rule ids across files). Every
problem of every file is printed as ``FILE:LINE:COL: path: message``; exit 2 on any.
With no paths: the config (``--config`` or ``./wfgy.yaml``) and the policies it names.
"""

from __future__ import annotations

import re
from pathlib import Path

from wfgy_rules.documents.schema import validate
from wfgy_rules.documents.yamlio import load_file
from wfgy_rules.errors import PolicyError, Problem, WfgyError
from wfgy_rules.policy.loader import load_policies
from wfgy_rules.run.config import config_from_document, find_config, load_config

_API_VERSION = re.compile(rb"(?m)^apiVersion:[ \t]*['\"]?wfgy-rules/")
_SCHEMA_OF_KIND = {"PolicyTest": "policy-test", "PromptVars": "prompt-vars"}


def run(paths: list[str], config: str | None) -> int:
    if not paths:
        config_path = find_config(config)
        settings = load_config(config_path)
        loaded = load_policies(settings.policies, settings.base_dir)
        print(f"ok: {len(loaded.policies) + (1 if config_path else 0)} file(s) valid")
        return 0
    problems: list[Problem] = []
    policies: list[str] = []
    files = _expand(paths)
    for path in files:
        try:
            if _check_file(path):
                policies.append(str(path))
        except WfgyError as exc:
            problems.extend(exc.problems or [Problem(str(path), str(exc))])
    if policies:
        try:
            load_policies(policies, Path.cwd())
        except PolicyError as exc:
            problems.extend(exc.problems)
    checked = len(files)
    if problems:
        raise PolicyError("invalid files", problems)
    print(f"ok: {checked} file(s) valid")
    return 0


def _expand(paths: list[str]) -> list[Path]:
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))
            found.extend(p for p in candidates if _ours(p))
        else:
            found.append(path)
    return found


def _ours(path: Path) -> bool:
    """Whether a file found in a directory is a wfgy-rules file (a cheap look, before parsing)."""
    if path.suffix == ".json":
        return "model-card" in path.name
    try:
        with path.open("rb") as handle:
            return _API_VERSION.search(handle.read(64 * 1024)) is not None
    except OSError:
        return True  # let the loader report why it cannot be read


def _check_file(path: Path) -> bool:
    """Check one file; True when it is a policy (checked later, together with the others)."""
    document = load_file(path, path.as_posix())
    data = document.data
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "Policy":
        return True
    if kind == "Config":
        config_from_document(document, path.resolve().parent)
    elif kind in _SCHEMA_OF_KIND:
        _raise(validate(document, _SCHEMA_OF_KIND[kind]))
    elif path.suffix == ".json" and "model-card" in path.name:
        _raise(validate(document, "model-card"))
    else:
        _raise([document.problem((), "unknown file: expected kind Policy, Config, PolicyTest or PromptVars, or a model-card JSON")])
    return False


def _raise(problems: list[Problem]) -> None:
    if problems:
        raise PolicyError("invalid file", problems)

