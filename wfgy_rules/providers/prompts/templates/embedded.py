"""Prompt templates embedded in YAML / JSON files and in ``.prompty`` files, with their declarations.

Many prompt files are documents that hold templates as string values: PyRIT (``value:``
beside ``parameters:``), promptfoo (``prompts:``), LangChain hub (``template:`` beside
``input_variables:``, ``template_format:``), Semantic Kernel ``prompt.yaml`` (``template:``,
``template_format:``, ``input_variables:``), openai/evals (``prompt:``), NeMo Guardrails
(``content:``), promptflow ``flow.dag.yaml`` (``${inputs.x}`` beside ``inputs:``). Read
as raw text their YAML quoting and escapes look like template syntax errors, so:

* `document_pieces(text, name)` parses the file with the project's own loader
  (`wfgy_rules.documents.yamlio`, positions of every value) and returns each string value
  that holds a template marker as a `Piece` (not under ``metadata``, ``description``,
  ``name``, … : data about the file): the string, the syntax its document names
  (``template_format`` in its mapping or at the root: ``f-string`` -> ``format``,
  ``jinja2``, ``mustache`` / ``handlebars`` -> ``mustache``, ``semantic-kernel``; a
  LangChain mapping with ``input_variables`` and no format is ``format``), or None to sniff
  (single-brace ``{x}`` fields only under template keys: ``template``, ``prompt``,
  ``content``, ``value``, …), and a map from offsets in the string back to the file's line
  and column. Keys are never templates. None when the file does not parse as YAML / JSON (it is then read as text).
* `prompty_pieces(text)`: a ``.prompty`` file is YAML front matter between ``---`` lines,
  then the template body (Jinja unless ``template: {format: …}`` says otherwise). The front
  matter's ``${env:X}`` / ``${file:x}`` references are configuration, not variables: only the
  body is scanned, at its own lines.
* **Declarations**: names the file declares for its templates are declared for that file:
  PyRIT ``parameters: [x]``, LangChain / Semantic Kernel ``input_variables`` (names or
  ``{name: …}``), LangChain ``partial_variables``, prompty and promptflow ``inputs``.

A value's offsets map to the file by occurrence: the k-th ``name`` in the string is the k-th
``name`` (as a whole word) in the value's source text, which survives block-scalar
indentation, folding and quoting; the value's own position is the fallback.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_FORMATS = {
    "f-string": "format", "fstring": "format", "jinja2": "jinja2", "jinja": "jinja2", "mustache": "mustache",
    "handlebars": "mustache", "semantic-kernel": "semantic_kernel", "semantic_kernel": "semantic_kernel",
}
_MARKERS = ("{{", "{%", "${", "{")
_DECLARING_KEYS = ("parameters", "input_variables", "partial_variables", "inputs")
# Values under these keys are data about the file, never templates.
_NOT_TEMPLATES = frozenset({"metadata", "description", "authors", "source", "name", "harm_categories"})
# Only values under these keys are read for single-brace ``{x}`` fields when sniffed: in other
# values (``output_template`` of openai/evals, prose) braces are the tool's own business.
_TEMPLATE_KEYS = frozenset({"template", "prompt", "prompts", "content", "value", "system", "user", "messages", "text"})
_FRONT_MATTER = re.compile(r"\A(\s*\n)?---[ \t]*\n(.*?\n)---[ \t]*(\n|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Piece:
    """A template inside a file: its text, its syntax (None: sniff it) and offset -> (line, column)."""

    text: str
    syntax: str | None
    position: Callable[[str, int], tuple[int, int]]  # (name, offset in text) -> file line, column
    fields: bool = True  # sniffed for single-brace ``format`` fields too (a template key's value)


def document_pieces(text: str, name: str) -> tuple[list[Piece], frozenset[str]] | None:
    from wfgy_rules.documents.yamlio import load_text
    from wfgy_rules.errors import WfgyError

    try:
        document = load_text(text, name)
    except (WfgyError, ValueError):
        return None
    data = document.data
    if not isinstance(data, (dict, list)):
        return None
    starts = _line_starts(text)
    marks = sorted(_offset(starts, pos) for pos in (*document.values.values(), *document.keys.values()) if pos[0])
    root_format = _format_of(data) if isinstance(data, dict) else None
    pieces = []
    for where, value, parent in _strings(data, (), None):
        if not any(marker in value for marker in _MARKERS) or where not in document.values:
            continue
        start = _offset(starts, document.values[where])
        end = marks[bisect.bisect_right(marks, start)] if bisect.bisect_right(marks, start) < len(marks) else len(text)
        syntax = (_format_of(parent) if isinstance(parent, dict) else None) or root_format
        key = next((k for k in reversed(where) if isinstance(k, str)), None)
        pieces.append(Piece(value, syntax, _mapper(text, starts, value, start, end), key in _TEMPLATE_KEYS))
    return pieces, _declared(data)


def prompty_pieces(text: str) -> tuple[list[Piece], frozenset[str]]:
    """The body of a ``.prompty`` file (front matter blanked, so lines stay) and its ``inputs``."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return [Piece(text, "jinja2", _same_place(text))], frozenset()
    from wfgy_rules.documents.yamlio import load_text
    from wfgy_rules.errors import WfgyError

    try:
        front = load_text(match.group(2), "front matter").data
    except (WfgyError, ValueError):
        front = None
    front = front if isinstance(front, dict) else {}
    template = front.get("template")
    fmt = template.get("format") if isinstance(template, dict) else template
    body = re.sub(r"[^\n]", " ", text[: match.end()]) + text[match.end() :]
    return [Piece(body, _FORMATS.get(str(fmt).lower(), "jinja2") if fmt else "jinja2", _same_place(body))], _declared(front)


def _same_place(text: str) -> Callable[[str, int], tuple[int, int]]:
    starts = _line_starts(text)
    return lambda _name, offset: _line_column(starts, offset)


def _strings(data: Any, where: tuple, parent: Any) -> Iterator[tuple[tuple, str, Any]]:
    if isinstance(data, str):
        yield where, data, parent
    elif isinstance(data, dict):
        for key, value in data.items():
            if key not in _NOT_TEMPLATES:
                yield from _strings(value, (*where, key), data)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _strings(value, (*where, index), parent if isinstance(parent, dict) else None)


def _format_of(mapping: dict[str, Any]) -> str | None:
    fmt = mapping.get("template_format")
    if isinstance(fmt, str):
        return _FORMATS.get(fmt.lower())
    return "format" if "input_variables" in mapping and "template" in mapping else None


def _declared(data: Any) -> frozenset[str]:
    if not isinstance(data, dict):
        return frozenset()
    names = set()
    for key in _DECLARING_KEYS:
        value = data.get(key)
        if isinstance(value, dict):
            names |= {k for k in value if isinstance(k, str)}
        elif isinstance(value, list):
            names |= {v for v in value if isinstance(v, str)}
            names |= {v["name"] for v in value if isinstance(v, dict) and isinstance(v.get("name"), str)}
    return frozenset(names)


def _mapper(text: str, starts: list[int], value: str, start: int, end: int) -> Callable[[str, int], tuple[int, int]]:
    source = text[start:end]

    def position(name: str, offset: int) -> tuple[int, int]:
        if not name:  # the string itself
            return _line_column(starts, start)
        word = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
        index = sum(1 for _ in word.finditer(value, 0, offset))
        hits = [m.start() for m in word.finditer(source)]
        return _line_column(starts, start + (hits[index] if index < len(hits) else 0))

    return position


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _offset(starts: list[int], position: tuple[int, int]) -> int:
    line, column = position
    return starts[min(line, len(starts)) - 1] + column - 1


def _line_column(starts: list[int], offset: int) -> tuple[int, int]:
    line = bisect.bisect_right(starts, offset)
    return line, offset - starts[line - 1] + 1
