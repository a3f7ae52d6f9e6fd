"""The YAML loader as it was before its event loop was made fast (commit fc5a483): the
reference that `wfgy_rules.documents.yamlio` must agree with, node for node and error for
error (`tests/documents/test_yamlio_reference.py`). Test code only; not imported by the package."""

from __future__ import annotations

import math
from typing import Any

import yaml

from wfgy_rules.documents.yamlio import (
    _CONSTRUCTED,
    _CONTAINER_TAGS,
    MAX_DEPTH,
    MAX_NODES,
    Document,
    JsonPath,
    _at,
    _bad_scalar,
    _bad_tag,
    _fail,
    _not_finite,
    _Loader,
    _resolver,
    format_path,
    text_digest,
)
from wfgy_rules.errors import PolicyError, Problem


def reference_load_text(text: str, path: str, digest: str | None = None) -> Document:
    """Parse YAML text; raises `PolicyError` with every duplicate key, or the first fatal error.

    ``digest`` is the text's `text_digest` when the caller already has it."""
    builder = _Builder(path)
    for event in _events(text, path):
        builder.feed(event)
    if builder.documents == 0:
        raise _fail(path, "file is empty, expected a YAML mapping")
    if builder.problems:
        raise PolicyError("duplicate keys", builder.problems)
    return Document(path, builder.root, builder.values, builder.keys, digest or text_digest(text))


def reference_load_stream(text: str, path: str) -> list[Document]:
    """Every document of a multi-document stream (``---``-separated, as ``helm template`` and
    ``kustomize build`` print them), in order, positions kept (lines count from the start of
    the stream). Empty documents are left out. The limits of `load_text` apply; the node
    limit counts the whole stream, anchors stay within their document (as in YAML)."""
    digest = text_digest(text)
    documents: list[Document] = []
    problems: list[Problem] = []
    builder: _Builder | None = None
    count = 0
    for event in _events(text, path):
        kind = type(event)
        if kind is yaml.DocumentStartEvent:
            builder = _Builder(path)
            builder.count = count
        elif kind is yaml.DocumentEndEvent and builder is not None:
            count = builder.count
            problems.extend(builder.problems)
            if builder.root is not None:
                documents.append(Document(path, builder.root, builder.values, builder.keys, digest))
            builder = None
        elif builder is not None:
            builder.feed(event)
    if problems:
        raise PolicyError("duplicate keys", problems)
    return documents


def _events(text: str, path: str):
    """The YAML event stream; a syntax error is a `PolicyError` at its position."""
    try:
        yield from yaml.parse(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise PolicyError(message, [_at(path, mark, f"invalid YAML: {message}")]) from None
    except yaml.YAMLError as exc:
        raise _fail(path, f"invalid YAML: {exc}") from None


class _Frame:
    __slots__ = ("anchor", "container", "is_map", "key", "key_mark", "merged", "start_count", "where")

    def __init__(self, container, where, anchor, start_count):
        self.container = container
        self.where = where
        self.key = None
        self.key_mark = None
        self.anchor = anchor
        self.start_count = start_count
        self.is_map = isinstance(container, dict)
        self.merged: set[str] = set()  # keys that came from a merge (<<); explicit keys override them


class _Builder:
    """Turns YAML events into plain data plus position maps, enforcing the limits above."""

    def __init__(self, path: str):
        self.path = path
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.values: dict[JsonPath, tuple[int, int]] = {}
        self.keys: dict[JsonPath, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.count = 0
        self.documents = 0
        self.root: Any = None

    def feed(self, event: yaml.Event) -> None:
        kind = type(event)
        if kind is yaml.ScalarEvent:
            self._scalar(event)
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            self._start(event, {} if kind is yaml.MappingStartEvent else [])
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            frame = self.stack.pop()
            if frame.anchor:
                self.anchors[frame.anchor] = (frame.container, self.count - frame.start_count)
        elif kind is yaml.AliasEvent:
            self._alias(event)
        elif kind is yaml.DocumentStartEvent:
            self.documents += 1
            if self.documents > 1:
                raise PolicyError("multi-document", [_at(self.path, event.start_mark, "more than one YAML document (---); put one document in each file")])

    def _count(self, n: int, mark) -> None:
        self.count += n
        if self.count > MAX_NODES:
            raise PolicyError("too large", [_at(self.path, mark, f"document expands to more than {MAX_NODES} nodes (alias bomb?)")])

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        self._count(1, event.start_mark)
        frame = self.stack[-1] if self.stack else None
        if frame is not None and frame.is_map and frame.key is None:
            self._check_tag(event.tag, event.start_mark, scalar=True)
            frame.key = event.value
            frame.key_mark = event.start_mark
            return
        tag = event.tag
        if tag is None or tag == "!":
            tag = _resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        self._check_tag(tag, event.start_mark, scalar=True)
        try:
            value = _CONSTRUCTED[tag](event.value)
        except (ValueError, IndexError, KeyError, yaml.YAMLError):  # IndexError: an empty !!int; KeyError: !!bool x
            raise _bad_scalar(self.path, event.start_mark, tag) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise _not_finite(self.path, event.start_mark)
        if event.anchor:
            self.anchors[event.anchor] = (value, 1)
        self._place(value, event.start_mark)

    def _start(self, event, container) -> None:
        self._count(1, event.start_mark)
        self._check_tag(event.tag, event.start_mark, scalar=False)
        if len(self.stack) >= MAX_DEPTH:
            raise PolicyError("too deep", [_at(self.path, event.start_mark, f"nesting deeper than {MAX_DEPTH} levels")])
        frame = self.stack[-1] if self.stack else None
        if frame is not None and frame.is_map and frame.key is None:
            raise PolicyError("complex key", [_at(self.path, event.start_mark, "a mapping key must be a plain string, not a list or mapping")])
        where = self._place(container, event.start_mark)
        self.stack.append(_Frame(container, where, event.anchor, self.count))

    def _alias(self, event: yaml.AliasEvent) -> None:
        if event.anchor not in self.anchors:
            raise PolicyError("bad alias", [_at(self.path, event.start_mark, f"unknown alias *{event.anchor}")])
        value, size = self.anchors[event.anchor]
        self._count(size, event.start_mark)
        frame = self.stack[-1] if self.stack else None
        if frame is not None and frame.is_map and frame.key is None:
            raise PolicyError("alias key", [_at(self.path, event.start_mark, "an alias cannot be a mapping key")])
        self._place(value, event.start_mark)

    def _place(self, value: Any, mark) -> JsonPath:
        position = (mark.line + 1, mark.column + 1)
        if not self.stack:
            self.root = value
            self.values[()] = position
            return ()
        frame = self.stack[-1]
        if not frame.is_map:
            where = (*frame.where, len(frame.container))
            frame.container.append(value)
            self.values[where] = position
            return where
        key, key_mark = frame.key, frame.key_mark
        frame.key = None
        if key == "<<" and isinstance(value, (dict, list)):
            self._merge(frame, value, key_mark)
            return frame.where
        where = (*frame.where, key)
        if key in frame.container and key not in frame.merged:
            first = self.keys.get(where, (None, None))
            self.problems.append(Problem(self.path, f"duplicate key {key!r} (first defined at line {first[0]})", key_mark.line + 1, key_mark.column + 1, format_path(where)))
            return where
        frame.container[key] = value
        frame.merged.discard(key)
        self.keys[where] = (key_mark.line + 1, key_mark.column + 1)
        self.values[where] = position
        return where

    def _merge(self, frame: _Frame, value: Any, mark) -> None:
        sources = value if isinstance(value, list) else [value]
        for source in sources:
            if not isinstance(source, dict):
                raise PolicyError("bad merge", [_at(self.path, mark, "a merge key (<<) needs a mapping or a list of mappings")])
            for k, v in source.items():
                if k not in frame.container:
                    frame.container[k] = v
                    frame.merged.add(k)

    def _check_tag(self, tag: str | None, mark, scalar: bool) -> None:
        allowed = tag in _CONSTRUCTED or tag is None or tag == "!" if scalar else tag in _CONTAINER_TAGS
        if not allowed:
            raise _bad_tag(self.path, mark, tag)
