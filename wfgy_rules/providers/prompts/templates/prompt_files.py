"""One prompt file, read for placeholders: which syntaxes to scan it for, and what it declares.

`analyse(name, text, syntax)` returns a `FileScan`. ``syntax`` is the one the file's
``syntax:`` glob or its extension gives; then the file is scanned for that syntax only and its
syntax errors are ``problems`` (blocking). Otherwise:

* ``.prompty``, ``.yaml`` / ``.yml`` / ``.json``: the templates inside the document
  (`wfgy_rules.providers.prompts.templates.embedded`), each with the syntax its document names
  (scanned for that only) or sniffed; names the document declares are ``declared``;
* any other file is **sniffed**, and scanned for every syntax whose markers it holds:

  ======================  ============================================================
  marker                  syntax
  ======================  ============================================================
  ``{{$``                 ``semantic_kernel`` (for all its ``{{…}}``: not Jinja)
  ``{{`` or ``{%``        ``jinja2`` (``chat_template`` when it iterates ``messages``)
  ``${``                  ``dollar``
  ``{name}`` (no Jinja)   ``format``, only fields not glued to a word, ``\\`` or ``$``
                          (``\\frac{a}{b}`` and ``f{x}`` are not fields)
  ======================  ============================================================

  In Markdown (``.md``), fenced code blocks are code, not template: they are not scanned.
  A sniffed text that does not parse as Jinja is a ``note`` ("not Jinja; set ``syntax:``
  for it"), never a blocking problem; it is then read for ``format`` fields instead.

VS Code prompt files (``*.prompt.md``) get the editor's variables from the editor
(``runtime``: ``${file}``, ``${selection}``, ``${workspaceFolder}``, …).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from wfgy_rules.providers.prompts.templates.chat_templates import is_chat_template
from wfgy_rules.providers.prompts.templates.embedded import (
    Piece,
    document_pieces,
    prompty_pieces,
)
from wfgy_rules.providers.prompts.templates.placeholders import may_contain, scan
from wfgy_rules.providers.prompts.templates.scan_results import Placeholder, SyntaxProblem

_DOCUMENTS = frozenset({".yaml", ".yml", ".json"})
_FORMAT_FIELD = re.compile(r"(?<![\w\\$}{])\{[A-Za-z_]\w*(?:\.\w+|\[[^\]{}]*\])*\}(?!\})")
_FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.DOTALL | re.MULTILINE)
VSCODE_RUNTIME = frozenset(
    {
        "file", "fileBasename", "fileDirname", "fileBasenameNoExtension", "selection", "selectedText",
        "workspaceFolder", "workspaceFolderBasename", "cwd", "lineNumber",
    }
)


@dataclass(frozen=True)
class FileScan:
    """What one file holds: (syntax, placeholder) pairs in file positions, problems and notes."""

    syntax: str | None  # the first syntax scanned (files[].syntax)
    placeholders: tuple[tuple[str, Placeholder], ...] = ()
    problems: tuple[SyntaxProblem, ...] = ()  # blocking: the file's syntax was given
    notes: tuple[SyntaxProblem, ...] = ()  # sniffed text that did not parse as Jinja
    declared: frozenset[str] = frozenset()  # names the file declares (parameters, inputs, …)
    runtime: frozenset[str] = frozenset()  # names the file's runtime supplies (VS Code)


def analyse(name: str, text: str, syntax: str | None) -> FileScan:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lower = name.lower()
    runtime = VSCODE_RUNTIME if lower.endswith(".prompt.md") else frozenset()
    if syntax is not None:
        placeholders, problems = scan(text, syntax)
        syntax = _chat_or(syntax, text, placeholders)
        return FileScan(syntax, tuple((syntax, p) for p in placeholders), tuple(problems), runtime=runtime)
    suffix = os.path.splitext(lower)[1]
    if suffix == ".prompty":
        pieces, declared = prompty_pieces(text)
        return _pieces(pieces, declared, blocking=True)
    if suffix in _DOCUMENTS:
        found = document_pieces(text, name)
        if found is not None:
            return _pieces(*found, blocking=False)
    if suffix in (".md", ".markdown"):
        text = _FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    return _sniffed(text, runtime)


def _sniffed(text: str, runtime: frozenset[str] = frozenset(), fields: bool = True) -> FileScan:
    found: list[tuple[str, Placeholder]] = []
    notes: list[SyntaxProblem] = []
    syntaxes = sniff(text, fields)
    for syntax in syntaxes:
        placeholders, problems = scan(text, syntax) if syntax != "format" else (_format_fields(text), [])
        if problems and syntax == "jinja2":
            first = problems[0]
            notes.append(SyntaxProblem(first.line, first.column, f"not Jinja ({first.message}); set `syntax:` for it"))
            if fields and "format" not in syntaxes:
                found += [("format", p) for p in _format_fields(text)]
            continue
        notes += [SyntaxProblem(p.line, p.column, f"not {syntax} ({p.message}); set `syntax:` for it") for p in problems]
        syntax = _chat_or(syntax, text, placeholders)
        found += [(syntax, p) for p in placeholders]
    return FileScan(syntaxes[0] if syntaxes else None, tuple(found), (), tuple(notes), runtime=runtime)


def sniff(text: str, fields: bool = True) -> tuple[str, ...]:
    """The syntaxes whose markers ``text`` holds (see the module docstring)."""
    found = []
    if "{{$" in text:
        found.append("semantic_kernel")
    elif "{{" in text or "{%" in text:
        found.append("jinja2")
    if "${" in text:
        found.append("dollar")
    if fields and not found and _FORMAT_FIELD.search(text):
        found.append("format")
    return tuple(found)


def _format_fields(text: str) -> list[Placeholder]:
    """``format`` fields of a sniffed text: only those that stand alone (see `_FORMAT_FIELD`)."""
    if not _FORMAT_FIELD.search(text):
        return []
    placeholders, _ = scan(text, "format")
    starts = [0, *(m.end() for m in re.finditer("\n", text))]
    fields = {m.start() + 1 for m in _FORMAT_FIELD.finditer(text)}
    return [p for p in placeholders if starts[p.line - 1] + p.column - 1 in fields]


def _pieces(pieces: list[Piece], declared: frozenset[str], blocking: bool) -> FileScan:
    found: list[tuple[str, Placeholder]] = []
    problems: list[SyntaxProblem] = []
    notes: list[SyntaxProblem] = []
    first: str | None = None
    for piece in pieces:
        if piece.syntax is not None and may_contain(piece.text, piece.syntax):
            placeholders, piece_problems = scan(piece.text, piece.syntax)
            kind = _chat_or(piece.syntax, piece.text, placeholders)
            inner = FileScan(kind, tuple((kind, p) for p in placeholders), (), ())
            (problems if blocking else notes).extend(_moved(piece, q) for q in piece_problems)
        else:
            inner = _sniffed(piece.text, fields=piece.fields)
            notes += [_moved(piece, q) for q in inner.notes]
        first = first or inner.syntax
        for syntax, p in inner.placeholders:
            line, column = piece.position(p.name, _offset_in(piece.text, p.line, p.column))
            found.append((syntax, Placeholder(p.name, line, column, p.default, p.optional)))
    return FileScan(first, tuple(found), tuple(problems), tuple(notes), declared)


def _moved(piece: Piece, problem: SyntaxProblem) -> SyntaxProblem:
    """A problem inside a piece, at the piece's start (or its own place, in a prompty body)."""
    line, column = piece.position("", _offset_in(piece.text, problem.line, problem.column or 1))
    if piece.position("", 0) == (line, column) and problem.line > 1:  # inside a YAML string
        return SyntaxProblem(line, None, f"line {problem.line} of the string: {problem.message}")
    return SyntaxProblem(line, problem.column and column, problem.message)


def _offset_in(text: str, line: int, column: int) -> int:
    offset = 0
    for _ in range(line - 1):
        offset = text.index("\n", offset) + 1
    return offset + column - 1


def _chat_or(syntax: str, text: str, placeholders: list[Placeholder]) -> str:
    return "chat_template" if syntax == "jinja2" and is_chat_template(text, placeholders) else syntax
