"""Read Python source the way the interpreter would name things, without running any of it.

The engine tests read vLLM's and SGLang's argument definitions out of their source files with
`ast`; those definitions name classes and type aliases that live in other modules of the same
package. `SourceTree` parses files on demand, follows ``from pkg.mod import Name`` into the
file that defines the name, and records every file it opened (``used``), so the corpus under
``tests/corpus/serving/engines/`` holds exactly what the checks read. A name imported from
the package whose file is absent raises `MissingSource` (a corpus that lost a file fails
loudly); names from outside the package (typing, torch) resolve to nothing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class MissingSource(LookupError):
    """A module of the engine's own package is needed but its file is not in the tree."""


@dataclass(frozen=True)
class Definition:
    """Where a name is defined: the file (relative to the tree), and the class or value node."""

    path: str
    node: ast.AST  # ast.ClassDef, or the expression assigned to an alias


class SourceTree:
    """The files of one unpacked distribution, e.g. the ``vllm/`` tree of a wheel."""

    def __init__(self, root: Path, package: str):
        self.root = root
        self.package = package
        self.used: set[str] = set()
        self._modules: dict[str, ast.Module] = {}

    def module(self, relpath: str) -> ast.Module:
        """The parsed file at ``relpath`` (``vllm/engine/arg_utils.py``)."""
        if relpath not in self._modules:
            path = self.root / relpath
            if not path.is_file():
                raise MissingSource(relpath)
            self._modules[relpath] = ast.parse(path.read_text(encoding="utf-8"), relpath)
            self.used.add(relpath)
        return self._modules[relpath]

    def module_path(self, dotted: str) -> str | None:
        """``vllm.config.cache`` -> ``vllm/config/cache.py`` (or its package ``__init__``)."""
        if dotted != self.package and not dotted.startswith(self.package + "."):
            return None
        base = dotted.replace(".", "/")
        for candidate in (f"{base}.py", f"{base}/__init__.py"):
            if (self.root / candidate).is_file():
                return candidate
        raise MissingSource(f"{base}.py")

    def resolve(self, relpath: str, name: str, depth: int = 0) -> Definition | None:
        """The class or alias ``name`` means inside ``relpath``, following imports."""
        if depth > 12:
            return None
        module = self.module(relpath)
        for node in module.body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                return Definition(relpath, node)
            target = _assigned(node, name)
            if target is not None:
                return Definition(relpath, target)
        for node in module.body:
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    if (alias.asname or alias.name) == name:
                        source = self.module_path(self.absolute(relpath, node))
                        if source is None:
                            return None
                        return self.resolve(source, alias.name, depth + 1)
        return None

    @staticmethod
    def absolute(relpath: str, node: ast.ImportFrom) -> str:
        """The dotted module an ``ImportFrom`` in ``relpath`` names (``from .x import`` too)."""
        if node.level == 0:
            return node.module
        package = PurePosixPath(relpath).parent
        for _ in range(node.level - 1):
            package = package.parent
        return ".".join(package.parts + (node.module,))

    def find_class(self, relpath: str, name: str) -> Definition | None:
        found = self.resolve(relpath, name)
        return found if found is not None and isinstance(found.node, ast.ClassDef) else None


def _assigned(node: ast.stmt, name: str) -> ast.expr | None:
    if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
        return node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
        return node.value
    if hasattr(ast, "TypeAlias") and isinstance(node, getattr(ast, "TypeAlias")):
        if isinstance(node.name, ast.Name) and node.name.id == name:
            return node.value
    return None


def constant_strings(nodes) -> list[str]:
    """The string constants among ``nodes`` (option names in an ``add_argument`` call)."""
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    for item in call.keywords:
        if item.arg == name:
            return item.value
    return None


def call_name(node: ast.AST) -> str | None:
    """``f`` for ``f(...)``, ``m`` for ``x.y.m(...)``."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None
