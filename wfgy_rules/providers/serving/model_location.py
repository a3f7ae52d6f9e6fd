"""Where the model the launch names really is, found as the engine would find it.

In order: the launch's model when it is a path that exists (relative to the working
directory of the process ``preflight`` starts, or to ``wfgy.yaml`` for a configured
``command``); ``providers.serving.model_dir``, else ``providers.runtime.model_dir`` (the
directory a team mounts where the launch names a hub id); the Hugging Face cache
(``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``) for a hub id, at
the snapshot ``refs/main`` points to. ``located`` says which (``launch``, ``serving.model_dir``,
``runtime.model_dir``, ``hf-cache``), or null when the model is not here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelLocation:
    path: Path | None
    located: str | None  # launch | serving.model_dir | runtime.model_dir | hf-cache | None
    looks_local: bool  # the launch names a filesystem path (./m, /models/m, ~/m, m.gguf), not a hub id


def locate_model(given: str | None, launch_base: Path, configured: Mapping[str, Any], environ: Mapping[str, str],
                 config_base: Path) -> ModelLocation:
    """Find the model directory (or GGUF file) the engine will load (see the module docstring)."""
    looks_local = isinstance(given, str) and not _HUB_ID.match(given)
    if isinstance(given, str) and given:
        candidate = Path(os.path.expanduser(given))
        candidate = candidate if candidate.is_absolute() else launch_base / candidate
        if candidate.exists():
            return ModelLocation(candidate, "launch", True)
    for key in ("serving.model_dir", "runtime.model_dir"):
        provider, _, option = key.partition(".")
        value = (configured.get(provider) or {}).get(option)
        if isinstance(value, str) and value:
            path = Path(value) if Path(value).is_absolute() else config_base / value
            if path.exists():
                return ModelLocation(path, key, looks_local)
    if isinstance(given, str) and _HUB_ID.match(given):
        snapshot = _cached_snapshot(given, environ)
        if snapshot is not None:
            return ModelLocation(snapshot, "hf-cache", False)
    return ModelLocation(None, None, looks_local)


def _cached_snapshot(repo_id: str, environ: Mapping[str, str]) -> Path | None:
    hub = environ.get("HF_HUB_CACHE") or (
        os.path.join(environ["HF_HOME"], "hub") if environ.get("HF_HOME") else os.path.expanduser("~/.cache/huggingface/hub")
    )
    repo = Path(hub) / ("models--" + repo_id.replace("/", "--"))
    try:
        revision = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    snapshot = repo / "snapshots" / revision
    return snapshot if revision and "/" not in revision and snapshot.is_dir() else None
