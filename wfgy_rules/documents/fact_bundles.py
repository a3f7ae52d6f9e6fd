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
by level, looking at each value once. The cyclic garbage collector is paused while a bundle is
parsed (`wfgy_rules.gc_pause`): a parsed document holds no cycles, and the collector rescanning
its containers as they are built costs more than the parse itself.

For a fleet, `read_bundle` can keep each provider's **section text** (``sections=True``): the
top-level object is parsed member by member, so the exact text of each provider's facts comes
for free, and a fleet judges a rule once per distinct text of the sections it reads
(`wfgy_rules.run.verdicts`). Any top-level text the member-by-member reader does not expect
is parsed again whole, so malformed JSON gets the same message either way
(``tests/documents/test_fact_bundles.py`` checks both readers agree).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wfgy_rules.documents.yamlio import decode_text, read_raw
from wfgy_rules.errors import Problem, WfgyError
from wfgy_rules.gc_pause import paused
from wfgy_rules.model import ERRORS_KEY, Bundle

MAX_DEPTH = 512  # twice the YAML loader's limit: room for provider and fact-name levels


def read_bundle(path: Path, shown: str | None = None, sections: bool = False) -> Bundle:
    """Read one bundle file written by ``wfgy-rules facts`` (exit 2 on anything malformed);
    with ``sections``, the bundle keeps each provider's section text (`Bundle.sections`)."""
    shown = shown or path.as_posix()
    raw = read_raw(path, shown)
    text = decode_text(raw, shown)
    texts = None
    try:
        with paused():
            if sections:
                data, texts = _members(text)
            else:
                data = _DECODER.decode(text)
            if _may_nest_deeper(raw):
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
    if texts is not None:
        texts.pop(ERRORS_KEY, None)
    return Bundle(data, errors, path.name, "sha256:" + hashlib.sha256(raw).hexdigest(), texts)


def read_fleet_bundle(path: str | Path) -> Bundle:
    """`read_bundle` for ``--facts DIR``: the bundle keeps its section texts."""
    return read_bundle(Path(path), sections=True)


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
    mapping, sequence = dict, list
    level = [value] if type(value) is mapping or type(value) is sequence else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        below: list[Any] = []
        keep = below.append
        for node in level:
            for child in (node.values() if type(node) is mapping else node):
                if type(child) is mapping or type(child) is sequence:
                    keep(child)
        level = below


def _may_nest_deeper(raw: bytes) -> bool:
    """Whether ``raw`` holds more brackets than ``MAX_DEPTH`` (else it cannot nest deeper)."""
    objects = raw.count(b"{")
    return objects > MAX_DEPTH or objects + raw.count(b"[") > MAX_DEPTH


_SPACE = re.compile(r"[ \t\n\r]*")
_PLAIN_KEY = re.compile(r'"([^"\\\x00-\x1f]*)"').match


def _members(text: str) -> tuple[Any, dict[str, str] | None]:
    """The document, and the text of each member of its top-level object (None, and the
    document parsed whole, for anything else: a non-object, or JSON this reader does not
    expect, which the whole parse then reports in its own words)."""
    at = _SPACE.match(text, 0).end()
    if text[at:at + 1] != "{":
        return _DECODER.decode(text), None
    try:
        return _read_members(text, at)
    except json.JSONDecodeError:
        return _DECODER.decode(text), None


def _read_members(text: str, at: int) -> tuple[Any, dict[str, str] | None]:
    space, decode = _SPACE.match, _DECODER.raw_decode
    data: dict[str, Any] = {}
    texts: dict[str, str] = {}
    at = space(text, at + 1).end()
    if text[at:at + 1] == "}":
        return (data, texts) if not text[space(text, at + 1).end():] else (_DECODER.decode(text), None)
    while True:
        plain = _PLAIN_KEY(text, at)  # most names need no unescaping: no decoder call for them
        if plain is not None:
            key, at = plain.group(1), plain.end()
        elif text[at:at + 1] == '"':
            key, at = decode(text, at)
        else:
            return _DECODER.decode(text), None
        at = space(text, at).end()
        if text[at:at + 1] != ":" or key in data:
            return _DECODER.decode(text), None
        start = space(text, at + 1).end()
        data[key], at = decode(text, start)
        texts[key] = text[start:at]
        at = space(text, at).end()
        if text[at:at + 1] == "}":
            break
        if text[at:at + 1] != ",":
            return _DECODER.decode(text), None
        at = space(text, at + 1).end()
    if text[space(text, at + 1).end():]:
        return _DECODER.decode(text), None
    return data, texts


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"duplicate key {duplicate!r} in a JSON object")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
