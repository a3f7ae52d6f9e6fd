"""Fact bundle files (``facts.json``, or a directory of them): read and checked, exit 2 on
anything malformed.

A bundle file is a JSON object keyed by provider name; the reserved key ``_errors`` maps
provider names to the reason their facts are missing. JSON with ``NaN``/``Infinity``,
duplicate keys, or nesting deeper than ``MAX_DEPTH`` levels is refused. Files over
``WFGY_MAX_FILE_BYTES`` (default 16 MiB) are refused too: raise it for bigger bundles
(``WFGY_MAX_FILE_BYTES=100000000`` reads a 50 MB bundle).

Speed (``bench/run.py``, "bundle read"): the bundle's digest is the sha256 of the bytes read
(`wfgy_rules.model.Bundle`), never a re-encoding; duplicate keys are caught by the decoder's
pairs hook as it builds each object; the depth guard is skipped when the file holds fewer
brackets than ``MAX_DEPTH`` (it cannot nest deeper), and otherwise walks the containers level
by level, looking at each value once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wfgy_rules.documents.yamlio import decode_text, read_raw
from wfgy_rules.errors import Problem, WfgyError
from wfgy_rules.model import ERRORS_KEY, Bundle

MAX_DEPTH = 512  # twice the YAML loader's limit: room for provider and fact-name levels


def read_bundle(path: Path, shown: str | None = None) -> Bundle:
    """Read one bundle file written by ``wfgy-rules facts`` (exit 2 on anything malformed)."""
    shown = shown or path.as_posix()
    raw = read_raw(path, shown)
    text = decode_text(raw, shown)
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
        if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
            check_depth(data)
    except json.JSONDecodeError as exc:
        raise WfgyError("bad facts", [Problem(shown, f"not valid JSON: {exc.msg}", exc.lineno, exc.colno)]) from None
    except ValueError as exc:
        raise WfgyError("bad facts", [Problem(shown, str(exc))]) from None
    except RecursionError:
        raise WfgyError("bad facts", [Problem(shown, f"JSON nested deeper than {MAX_DEPTH} levels")]) from None
    if not isinstance(data, dict):
        raise WfgyError("bad facts", [Problem(shown, "a fact bundle must be a JSON object keyed by provider name")])
    errors = data.pop(ERRORS_KEY, {})
    if not isinstance(errors, dict) or not all(isinstance(v, str) for v in errors.values()):
        raise WfgyError("bad facts", [Problem(shown, f"{ERRORS_KEY} must map provider names to messages")])
    return Bundle(data, errors, path.name, "sha256:" + hashlib.sha256(raw).hexdigest())


def read_bundles(path: Path) -> Iterator[Bundle]:
    """One bundle for a file; every ``*.json`` bundle of a directory, in name order."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
        if not files:
            raise WfgyError("no bundles", [Problem(path.as_posix(), "no *.json fact bundles in this directory")])
        for file in files:
            yield read_bundle(file)
    else:
        bundle = read_bundle(path)
        yield Bundle(bundle.facts, bundle.errors, None, bundle.source_digest)


def check_depth(value: Any) -> None:
    """`ValueError` when ``value`` nests deeper than ``MAX_DEPTH`` (checked without recursion,
    one level at a time: only containers are kept for the next level)."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        below: list[Any] = []
        for node in level:
            below.extend([v for v in (node.values() if type(node) is dict else node) if type(v) is dict or type(v) is list])
        level = below


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"duplicate key {duplicate!r} in a JSON object")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")
