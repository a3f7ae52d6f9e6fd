"""Where a result points in the repository, for consumers that need a file for every result
(GitHub code scanning refuses a whole SARIF file when one result has no location; workflow
annotations are placed by file and line).

Paths are relative to the *repository root*: ``--root``, else the nearest directory above the
working directory holding ``.git`` (the git top level, worktrees included), else the
config's directory. A result points, in this order of preference, at:

1. its own place, a ``for_each`` element's ``path``/``line``/``column``
   (``prompts/a.jinja:4:25``), when that is inside the repository;
2. for a rule that reads ``file`` facts, when that file is in the repository: what it judged
   there, the line of the ``for_each`` element (``file.serving.models`` → the element's
   entry), else of the deepest key the rule reads that the file holds
   (``file.serving.max_model_len`` → ``max_model_len:`` in ``deploy/serving.yaml``), else the
   file's first line;
3. the rule in its policy file, for a team policy inside the repository (the packs shipped
   with the tool live in the installed package, outside the repository);
4. for a rule that reads ``model_card`` facts, when the card is in the repository: the line
   of the card's key the rule reads (``torch`` for ``model_card.declared.torch``), or the
   card's first line;
5. the line of ``wfgy.yaml`` that configures a provider the rule reads
   (``providers: {runtime: …}``); for the tool's own waiver warnings, the waiver's entry;
6. ``wfgy.yaml`` itself, line 1 (without a config: where ``wfgy.yaml`` would be, the file
   that configures, overrides or waives the rule).

The judged files are read again, from where the config names them, only for their positions:
with ``--facts`` the lines are those of the files in the working tree.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from wfgy_rules.documents.yamlio import Document, load_file
from wfgy_rules.errors import UsageError, WfgyError
from wfgy_rules.model import AllOf, AnyOf, Compare, Not, Result, Rule, SourceLocation

CONFIG_FILE = "wfgy.yaml"
MODEL_CARD = "model_card"
DEFAULT_MODEL_CARD = "model-card.json"
FILE = "file"


def repository_root(explicit: str | os.PathLike[str] | None = None, config_dir: Path | None = None, cwd: Path | None = None) -> Path:
    """``explicit`` (``--root``), else the git top level above ``cwd``, else ``config_dir``, else ``cwd``."""
    cwd = (cwd or Path.cwd()).resolve()
    if explicit:
        return (cwd / explicit).resolve()
    for directory in (cwd, *cwd.parents):
        if (directory / ".git").exists():
            return directory
    return (config_dir or cwd).resolve()


def check_root(root: str | None) -> Path | None:
    """``--root``: an existing directory (resolved), or None when not given; exit 2 otherwise."""
    if root is None:
        return None
    path = Path(root)
    if not path.is_dir():
        raise UsageError(f"--root {root}: not a directory")
    return path.resolve()


class Locator:
    """Repository locations for the results of one run (see the module docstring)."""

    def __init__(self, root: Path, config: Any = None, cwd: Path | None = None):
        self.root = root.resolve()
        self.cwd = (cwd or Path.cwd()).resolve()
        self.config = config  # a `wfgy_rules.run.config.Config`, or None
        self.document: Document | None = getattr(config, "document", None)
        self._card: Document | None | bool = False  # False: not loaded yet
        self._files: dict[str, Document | None] = {}  # file provider fact name -> its document

    def locate(self, result: Result, rule: Rule | None) -> SourceLocation:
        """A location inside the repository, relative to its root; never None."""
        for where in self._candidates(result, rule):
            if where is not None:
                return where
        raise AssertionError("the last candidate is always a location")  # pragma: no cover

    def relative(self, path: str, line: int | None = None, column: int | None = None) -> SourceLocation | None:
        """``path`` (shown relative to the working directory, or absolute) relative to the
        root; None when it lies outside the repository."""
        given = Path(path)
        absolute = Path(os.path.normpath(given if given.is_absolute() else self.cwd / given))
        for candidate in (absolute, absolute.resolve()):
            try:
                return SourceLocation(candidate.relative_to(self.root).as_posix(), line, column)
            except ValueError:
                continue
        return None

    def _candidates(self, result: Result, rule: Rule | None) -> Iterator[SourceLocation | None]:
        if result.location is not None:
            yield self.relative(result.location.path, result.location.line, result.location.column)
        if rule is not None and FILE in rule.facts:
            yield self._judged_file_line(result, rule)
        if rule is not None and not rule.location.path.startswith("builtin:"):
            yield self.relative(rule.location.path, rule.location.line, rule.location.column)
        if rule is not None and MODEL_CARD in rule.facts:
            yield self._model_card_line(rule)
        if rule is None and result.waiver is not None:
            yield self._waiver_line(result.waiver)
        for provider in rule.facts if rule is not None else ():
            yield self._config_line(("providers", provider))
        yield self._config_file()

    def _config_file(self) -> SourceLocation:
        path = getattr(self.config, "path", None)
        where = self.relative(path, 1, 1) if path else None
        return where or self.relative(CONFIG_FILE, 1, 1) or SourceLocation(CONFIG_FILE, 1, 1)

    def _config_line(self, key: tuple) -> SourceLocation | None:
        if self.document is None or key not in self.document.keys:
            return None
        line, column = self.document.keys[key]
        return self.relative(self.document.path, line, column)

    def _waiver_line(self, waiver: dict[str, Any]) -> SourceLocation | None:
        waivers = list(getattr(self.config, "waivers", ()))
        if self.document is None or waiver not in waivers:
            return None
        line, column = self.document.locate(("waivers", waivers.index(waiver)))
        return self.relative(self.document.path, line, column)

    def _model_card_line(self, rule: Rule) -> SourceLocation | None:
        card = self._model_card()
        if card is None:
            return None
        for chain in _chains(rule):
            if chain[:2] == (MODEL_CARD, "declared") and len(chain) > 2 and chain[2:3] in card.keys:
                line, column = card.keys[chain[2:3]]
                return self.relative(card.path, line, column)
        return self.relative(card.path, 1, 1)

    def _judged_file_line(self, result: Result, rule: Rule) -> SourceLocation | None:
        ast = getattr(rule.for_each, "ast", None)
        element = _dotted(ast) if isinstance(ast, dict) and result.index is not None else None
        for chain in [*([(*element, result.index)] if element else []), *_chains(rule)]:
            document = self._file(chain[1]) if len(chain) > 1 and chain[0] == FILE else None
            if document is not None:
                return self.relative(document.path, *_deepest(document, tuple(chain[2:])))
        return None

    def _file(self, name: str) -> Document | None:
        """The document the ``file`` provider reads as ``file.<name>`` (None: not configured,
        not a file, outside the repository or unreadable)."""
        if name not in self._files:
            self._files[name] = None
            files = ((getattr(self.config, "providers", None) or {}).get(FILE) or {}).get("files") or {}
            base = getattr(self.config, "base_dir", None) or self.cwd
            path = (Path(base) / files[name]).resolve() if isinstance(files.get(name), str) else None
            if path is not None and path.is_file() and self.relative(str(path)) is not None:
                try:
                    self._files[name] = load_file(path, str(path))
                except WfgyError:  # a file that does not load: its rule's own place
                    pass
        return self._files[name]

    def _model_card(self) -> Document | None:
        if self._card is False:
            self._card = None
            settings = (getattr(self.config, "providers", None) or {}).get(MODEL_CARD) or {}
            base = getattr(self.config, "base_dir", None) or self.cwd
            path = Path(base) / settings.get("path", DEFAULT_MODEL_CARD)
            if path.is_file() and self.relative(str(path.resolve())) is not None:
                try:
                    self._card = load_file(path, str(path.resolve()))
                except WfgyError:  # an unreadable card: its first line
                    self._card = Document(str(path.resolve()), None)
        return self._card  # type: ignore[return-value]


def _deepest(document: Document, where: tuple) -> tuple[int, int]:
    """Line and column of the deepest part of ``where`` the document holds: a key's name, a
    list element's value; the first line when it holds none."""
    for end in range(len(where), 0, -1):
        found = document.keys.get(where[:end]) or document.values.get(where[:end])
        if found is not None:
            return found
    return 1, 1


def _chains(rule: Rule) -> list[tuple[str, ...]]:
    """The dotted paths the rule reads (``model_card.declared.torch``), the assertion's first,
    then its precondition's, then its message's."""
    chains: list[tuple[str, ...]] = []
    for expr in [*_check_exprs(rule.check), rule.when, rule.for_each, *(rule.message.expressions if rule.message is not None else ())]:
        ast = getattr(expr, "ast", None)
        if isinstance(ast, dict):
            _collect(ast, chains)
    return chains


def _check_exprs(check: Any) -> Sequence[Any]:
    if isinstance(check, Compare):
        return [check.key, check.value_from]
    if isinstance(check, (AllOf, AnyOf)):
        return [expr for child in check.children for expr in _check_exprs(child)]
    if isinstance(check, Not):
        return _check_exprs(check.child)
    return [check]


def _dotted(node: dict) -> tuple[str, ...] | None:
    if node.get("type") == "field":
        return (node["value"],)
    if node.get("type") == "subexpression":
        parts = [_dotted(child) for child in node.get("children", [])]
        if all(part is not None for part in parts):
            return tuple(name for part in parts for name in part)  # type: ignore[union-attr]
    return None


def _collect(node: dict, chains: list[tuple[str, ...]]) -> None:
    chain = _dotted(node)
    if chain is not None:
        chains.append(chain)
        return
    for child in node.get("children", []):
        if isinstance(child, dict):
            _collect(child, chains)
