"""An opt-in cache of parsed policy files, for very large rule sets.

Set ``WFGY_CACHE_DIR`` to a directory and a policy file that compiled cleanly is stored
there as JSON: its data, the position of each rule, and its parsed JMESPath expressions.
A later run over the same file (same sha256 of its text) with the same tool version skips
YAML parsing, schema validation and JMESPath parsing; every meaning check (providers,
names, functions, operators) still runs. Nothing is cached without ``WFGY_CACHE_DIR``:
by default a run writes nothing it was not asked to.

Entries are plain JSON, never pickle, so a cache file cannot run code; but whoever can
write the cache directory can change what a policy means. Point ``WFGY_CACHE_DIR`` at a
directory only the CI job (or user) itself writes.

Speed-up: a cached run must give the same rules, errors and reports as an uncached one
(YAML via ``yaml``/our loader, expressions via ``jmespath.compile``);
``tests/policy/test_cache.py`` checks that.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from wfgy_rules import __version__
from wfgy_rules.documents.atomic_write import write_atomic
from wfgy_rules.documents.yamlio import Document
from wfgy_rules.errors import WfgyError

_FORMAT = "wfgy-policy-cache/1"


def directory() -> Path | None:
    """The cache directory from ``WFGY_CACHE_DIR``, or None when caching is off."""
    raw = os.environ.get("WFGY_CACHE_DIR", "")
    return Path(raw) if raw else None


def _entry(root: Path, digest: str) -> Path:
    return root / (hashlib.sha256(f"{_FORMAT}\0{__version__}\0{digest}".encode()).hexdigest() + ".json")


def load(digest: str, shown: str) -> tuple[Document, dict[str, dict]] | None:
    """The cached document (positions of its rules only) and its parsed expressions, or None."""
    root = directory()
    if root is None:
        return None
    try:
        entry = json.loads(_entry(root, digest).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != _FORMAT or entry.get("digest") != digest or entry.get("tool") != __version__:
        return None
    values = {(): (1, 1), **{("rules", i): tuple(pos) for i, pos in enumerate(entry["rules"])}}
    return Document(shown, entry["data"], values, {}, digest), entry["asts"]


def store(document: Document, asts: dict[str, dict]) -> None:
    """Cache a document that compiled cleanly (best effort: a cache that cannot be written is skipped)."""
    root = directory()
    if root is None:
        return
    rules = document.data.get("rules", []) if isinstance(document.data, dict) else []
    entry: dict[str, Any] = {
        "format": _FORMAT,
        "tool": __version__,
        "digest": document.digest,
        "data": document.data,
        "rules": [list(document.locate(("rules", i))) for i in range(len(rules))],
        "asts": asts,
    }
    try:
        root.mkdir(parents=True, exist_ok=True)
        write_atomic(_entry(root, document.digest), json.dumps(entry, separators=(",", ":")))
    except (OSError, WfgyError):
        return
