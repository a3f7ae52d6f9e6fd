"""Safe YAML (and JSON) loading that keeps the line and column of every node.

The loader reads the YAML event stream itself, so it can enforce, in one pass and without
recursion:

* only the standard YAML types: strings, numbers, booleans, null, lists, mappings
  (timestamps stay strings; any other tag, e.g. ``!!python/object/apply``, is an error;
  ``.nan``, ``.inf`` and floats too large for a double are errors, as they are not JSON);
  an error about a tagged scalar (``!!int sk-proj-…``, ``!!bool maybe``) names the tag and
  the position, never the scalar's text, and a tag of the file's own (``!Ref``) is called
  "a custom YAML tag" without its text;
* no duplicate keys (a later key silently replacing an earlier one hides mistakes);
* bounded size: files over ``WFGY_MAX_FILE_BYTES`` (default 10 MiB) are refused before
  parsing, nesting deeper than 256 levels and alias expansion past 1,000,000 nodes
  ("billion laughs") are refused;
* exactly one document per file; an empty file is an error (`load_stream` reads
  multi-document streams such as Kubernetes manifests, with the same limits).

Text is UTF-8; a byte-order mark is skipped, CRLF line ends and tabs in scalars behave as in
any YAML parser (tabs are not allowed for indentation). Errors are `PolicyError`s whose
problems render as ``FILE:LINE:COL: message``.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wfgy_rules.documents.bounded_read import InputRefused, read_bounded
from wfgy_rules.errors import PolicyError, Problem

DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 256
MAX_NODES = 1_000_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_resolver = yaml.resolver.Resolver()
_constructor = yaml.constructor.SafeConstructor()
_CONSTRUCTED = {
    "tag:yaml.org,2002:null": lambda v: None,
    "tag:yaml.org,2002:bool": lambda v: _constructor.construct_yaml_bool(yaml.ScalarNode("", v)),
    "tag:yaml.org,2002:int": lambda v: _constructor.construct_yaml_int(yaml.ScalarNode("", v)),
    "tag:yaml.org,2002:float": lambda v: _constructor.construct_yaml_float(yaml.ScalarNode("", v)),
    "tag:yaml.org,2002:str": lambda v: v,
    "tag:yaml.org,2002:timestamp": lambda v: v,
}
_CONTAINER_TAGS = {None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}

JsonPath = tuple  # a JSON path: a tuple of str keys and int indices


@dataclass(frozen=True)
class Document:
    """A parsed file: its data and the source position of every value and key."""

    path: str
    data: Any
    values: dict[JsonPath, tuple[int, int]] = field(default_factory=dict, repr=False)
    keys: dict[JsonPath, tuple[int, int]] = field(default_factory=dict, repr=False)
    digest: str = ""

    def locate(self, where: JsonPath, key: bool = False) -> tuple[int | None, int | None]:
        """Line and column of ``where`` (its key when ``key``), or of its nearest parent."""
        if key and where in self.keys:
            return self.keys[where]
        probe = tuple(where)
        while probe not in self.values and probe:
            probe = probe[:-1]
        return self.values.get(probe, (None, None))

    def data_at(self, where: JsonPath) -> Any:
        """The value at a JSON path (None when absent)."""
        value = self.data
        for part in where:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return None
        return value

    def problem(self, where: JsonPath, message: str, key: bool = False) -> Problem:
        line, column = self.locate(where, key)
        return Problem(self.path, message, line, column, format_path(where))


def format_path(where: JsonPath) -> str:
    """``("rules", 2, "assert")`` → ``rules[2].assert``."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def max_file_bytes() -> int:
    """The size limit for any input file, from ``WFGY_MAX_FILE_BYTES`` (bytes)."""
    raw = os.environ.get("WFGY_MAX_FILE_BYTES", "")
    return int(raw) if raw.isdigit() else DEFAULT_MAX_FILE_BYTES


def read_text(path: Path, shown: str | None = None) -> str:
    """A file's text: read with `read_bounded` (regular files only, size-limited), UTF-8 (BOM
    skipped); every failure is one `PolicyError` line."""
    shown = shown or str(path)
    return decode_text(read_raw(path, shown), shown)


def read_raw(path: Path, shown: str | None = None) -> bytes:
    """A file's bytes, read as `read_text` reads them (its failures, as one `PolicyError` line)."""
    shown = shown or str(path)
    try:
        return read_bounded(path, max_file_bytes())
    except InputRefused as exc:
        raise _fail(shown, str(exc)) from None
    except FileNotFoundError:
        raise _fail(shown, "no such file") from None
    except PermissionError:
        raise _fail(shown, "permission denied") from None
    except OSError as exc:
        raise _fail(shown, exc.strerror or str(exc)) from None


def decode_text(raw: bytes, shown: str) -> str:
    """UTF-8 text (BOM skipped); `PolicyError` at the line and column of the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PolicyError("not UTF-8", [Problem(shown, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", line, column)]) from None


def load_file(path: Path, shown: str | None = None) -> Document:
    """Load one YAML (or JSON, a subset of YAML) file into a `Document`."""
    shown = shown or str(path)
    return load_text(read_text(path, shown), shown)


def text_digest(text: str) -> str:
    """The sha256 (hex) of a file's text: what reports and the policy cache identify it by."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_text(text: str, path: str, digest: str | None = None) -> Document:
    """Parse YAML text; raises `PolicyError` with every duplicate key, or the first fatal error.

    ``digest`` is the text's `text_digest` when the caller already has it."""
    builder = _Builder(path, stream=False)
    builder.run(text)
    if not builder.finished:
        raise _fail(path, "file is empty, expected a YAML mapping")
    if builder.problems:
        raise PolicyError("duplicate keys", builder.problems)
    root, values, keys = builder.finished[0]
    return Document(path, root, values, keys, digest or text_digest(text))


def load_stream(text: str, path: str) -> list[Document]:
    """Every document of a multi-document stream (``---``-separated, as ``helm template`` and
    ``kustomize build`` print them), in order, positions kept (lines count from the start of
    the stream). Empty documents are left out. The limits of `load_text` apply; the node
    limit counts the whole stream, anchors stay within their document (as in YAML)."""
    digest = text_digest(text)
    builder = _Builder(path, stream=True)
    builder.run(text)
    if builder.problems:
        raise PolicyError("duplicate keys", builder.problems)
    return [Document(path, root, values, keys, digest) for root, values, keys in builder.finished if root is not None]


_STR = "tag:yaml.org,2002:str"
_FLOAT = "tag:yaml.org,2002:float"
_YAML_ORG = "tag:yaml.org,2002:"
_YAML_TYPES = frozenset({"null", "bool", "int", "float", "str", "timestamp", "binary", "map", "seq", "omap", "pairs", "set", "merge", "value", "yaml"})


class _Builder:
    """Turns YAML events into plain data plus position maps, enforcing the limits above.

    Speed-up: `run` is one loop over libyaml's events with the open container's state in
    local variables (it reads ~20 events per rule of a policy file). It must agree with the
    event-by-event builder it replaced, kept as ``tests/documents/yaml_reference.py``: same
    data, positions and errors; ``tests/documents/test_yamlio_reference.py`` checks that."""

    def __init__(self, path: str, stream: bool):
        self.path = path
        self.stream = stream  # several documents allowed (`load_stream`)
        self.problems: list[Problem] = []
        self.finished: list[tuple[Any, dict, dict]] = []  # (root, values, keys) of each document

    def run(self, text: str) -> None:
        loader = _Loader(text)
        try:
            self._run(loader.get_event)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
            raise PolicyError(message, [_at(self.path, mark, f"invalid YAML: {message}")]) from None
        except yaml.YAMLError as exc:
            raise _fail(self.path, f"invalid YAML: {exc}") from None
        finally:
            loader.dispose()

    def _run(self, get_event) -> None:
        path, problems, stream = self.path, self.problems, self.stream
        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
        mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
        document_start, document_end, stream_end = yaml.DocumentStartEvent, yaml.DocumentEndEvent, yaml.StreamEndEvent
        # A plain scalar's tag, as `yaml.resolver.Resolver.resolve` finds it: the first implicit
        # resolver for its first character that matches (there are no wildcard resolvers), else str.
        implicit_resolvers, constructed, container_tags = _resolver.yaml_implicit_resolvers, _CONSTRUCTED, _CONTAINER_TAGS
        count = documents = 0
        anchors: dict[str, tuple[Any, int]] = {}
        values: dict[JsonPath, tuple[int, int]] = {}
        keys: dict[JsonPath, tuple[int, int]] = {}
        root: Any = None
        # The open container (``depth`` > 0) in locals; its parents on ``stack``.
        stack: list[tuple] = []
        depth = 0
        container: Any = None
        where: JsonPath = ()
        is_map = False
        key: str | None = None  # the mapping key waiting for its value
        key_position: tuple[int, int] = (0, 0)
        anchor: str | None = None
        start_count = 0
        merged: set[str] | None = None  # keys that came from a merge (<<); explicit keys override them
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_event:
                mark = event.start_mark
                count += 1
                if count > MAX_NODES:
                    raise _too_large(path, mark)
                tag = event.tag
                if is_map and key is None:
                    if not (tag is None or tag == "!" or tag in constructed):
                        raise _bad_tag(path, mark, tag)
                    key = event.value
                    key_position = (mark.line + 1, mark.column + 1)
                    continue
                text = event.value
                if tag is None or tag == "!":
                    tag = _STR
                    if event.implicit[0]:
                        for resolved, regexp in implicit_resolvers.get(text[:1], ()):
                            if regexp.match(text):
                                tag = resolved
                                break
                if tag == _STR:
                    value = text
                else:
                    if tag not in constructed:
                        raise _bad_tag(path, mark, tag)
                    try:
                        value = constructed[tag](text)
                    except (ValueError, IndexError, KeyError, yaml.YAMLError):  # IndexError: an empty !!int; KeyError: !!bool x
                        raise _bad_scalar(path, mark, tag) from None
                    if tag == _FLOAT and not math.isfinite(value):
                        raise _not_finite(path, mark)
                if event.anchor:
                    anchors[event.anchor] = (value, 1)
            elif kind is mapping_start or kind is sequence_start:
                mark = event.start_mark
                count += 1
                if count > MAX_NODES:
                    raise _too_large(path, mark)
                if event.tag not in container_tags:
                    raise _bad_tag(path, mark, event.tag)
                if depth >= MAX_DEPTH:
                    raise PolicyError("too deep", [_at(path, mark, f"nesting deeper than {MAX_DEPTH} levels")])
                if is_map and key is None:
                    raise PolicyError("complex key", [_at(path, mark, "a mapping key must be a plain string, not a list or mapping")])
                value = {} if kind is mapping_start else []
            elif kind is mapping_end or kind is sequence_end:
                if anchor:
                    anchors[anchor] = (container, count - start_count)
                depth -= 1
                if depth:
                    container, where, is_map, key, key_position, anchor, start_count, merged = stack.pop()
                else:
                    container, where, is_map, key, anchor, merged = None, (), False, None, None, None
                continue
            elif kind is alias_event:
                mark = event.start_mark
                if event.anchor not in anchors:
                    raise PolicyError("bad alias", [_at(path, mark, f"unknown alias *{event.anchor}")])
                value, size = anchors[event.anchor]
                count += size
                if count > MAX_NODES:
                    raise _too_large(path, mark)
                if is_map and key is None:
                    raise PolicyError("alias key", [_at(path, mark, "an alias cannot be a mapping key")])
            elif kind is document_start:
                documents += 1
                if documents > 1 and not stream:
                    raise PolicyError("multi-document", [_at(path, event.start_mark, "more than one YAML document (---); put one document in each file")])
                anchors, values, keys, root = {}, {}, {}, None
                continue
            elif kind is document_end:
                self.finished.append((root, values, keys))
                continue
            elif kind is stream_end:
                return
            else:
                continue
            # Place ``value`` (a scalar, an alias's value, or a new container) at ``mark``.
            position = (mark.line + 1, mark.column + 1)
            if not depth:
                root = value
                placed: JsonPath = ()
                values[placed] = position
            elif not is_map:
                placed = (*where, len(container))
                container.append(value)
                values[placed] = position
            else:
                placed_key, key = key, None
                if placed_key == "<<" and isinstance(value, (dict, list)):
                    merged = _merge(path, container, merged, value, key_position)
                    placed = where
                else:
                    placed = (*where, placed_key)
                    if placed_key in container and (merged is None or placed_key not in merged):
                        first = keys.get(placed, (None, None))
                        problems.append(Problem(path, f"duplicate key {placed_key!r} (first defined at line {first[0]})", key_position[0], key_position[1], format_path(placed)))
                    else:
                        container[placed_key] = value
                        if merged is not None:
                            merged.discard(placed_key)
                        keys[placed] = key_position
                        values[placed] = position
            if kind is not scalar_event and kind is not alias_event:  # a new container opens
                if depth:
                    stack.append((container, where, is_map, key, key_position, anchor, start_count, merged))
                depth += 1
                container, where, is_map, key, anchor, start_count, merged = value, placed, kind is mapping_start, None, event.anchor, count, None


def _merge(path: str, container: dict, merged: set[str] | None, value: Any, key_position: tuple[int, int]) -> set[str]:
    """Merge ``value`` (a mapping or a list of mappings: ``<<: *base``) into ``container``;
    the keys it added, for explicit keys to override."""
    merged = set() if merged is None else merged
    for source in value if isinstance(value, list) else [value]:
        if not isinstance(source, dict):
            raise PolicyError("bad merge", [Problem(path, "a merge key (<<) needs a mapping or a list of mappings", *key_position)])
        for k, v in source.items():
            if k not in container:
                container[k] = v
                merged.add(k)
    return merged


def _too_large(path: str, mark) -> PolicyError:
    return PolicyError("too large", [_at(path, mark, f"document expands to more than {MAX_NODES} nodes (alias bomb?)")])


def _bad_tag(path: str, mark, tag: str | None) -> PolicyError:
    label = _tag_label(tag)
    which = f"YAML tag {label}" if label else "a custom YAML tag"
    return PolicyError("tag", [_at(path, mark, f"{which} is not allowed (only plain data: strings, numbers, booleans, null, lists, mappings)")])


def _bad_scalar(path: str, mark, tag: str) -> PolicyError:
    """A scalar its tag cannot read (``!!int sk-…``, ``!!bool maybe``): the tag and the place,
    never the text, which may be the secret the tag was wrongly put on."""
    name = tag[len(_YAML_ORG):]
    return PolicyError("bad scalar", [_at(path, mark, f"value tagged !!{name} is not a valid {name} (value not shown)")])


def _not_finite(path: str, mark) -> PolicyError:
    return PolicyError("bad scalar", [_at(path, mark, "value is not a finite number (NaN and infinity are not JSON values)")])


def _tag_label(tag: str | None) -> str | None:
    """A tag as an error names it: a YAML type as ``!!binary``, the Python family as
    ``!!python/…``; None for any other tag, which is text the file chose (``!sk-proj-…`` is a
    tag too) and is only called a custom tag."""
    name = tag[len(_YAML_ORG):] if tag and tag.startswith(_YAML_ORG) else ""
    if name in _YAML_TYPES:
        return f"!!{name}"
    return "!!python/…" if name.startswith("python/") else None


def _at(path: str, mark, message: str) -> Problem:
    if mark is None:
        return Problem(path, message)
    return Problem(path, message, mark.line + 1, mark.column + 1)


def _fail(path: str, message: str) -> PolicyError:
    return PolicyError(message, [Problem(path, message)])


def subdocument(document: Document, prefix: JsonPath, data: Any = None) -> Document:
    """The part of ``document`` under ``prefix`` as a document of its own, positions kept
    (so errors in an embedded config still point into the right file and line)."""
    n = len(prefix)
    values = {k[n:]: v for k, v in document.values.items() if k[:n] == prefix}
    keys = {k[n:]: v for k, v in document.keys.items() if k[:n] == prefix}
    if () not in values:
        values[()] = document.locate(prefix)
    return Document(document.path, document.data_at(prefix) if data is None else data, values, keys, document.digest)
