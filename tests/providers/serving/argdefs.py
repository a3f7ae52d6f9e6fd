"""What an engine's own argument parser accepts, as data: one `FlagDef` per option.

`takes` says how many command-line words the option consumes, which is what a launch parser
must know to read the words after it correctly:

  none      a switch (``--enforce-eager``); ``negations`` lists its off spellings
  value     one word (``--tensor-parallel-size 2``, ``--dtype=half``)
  optional  an optional word (argparse ``nargs="?"``)
  list      one or more words (argparse ``nargs="+"``/``"*"``/N)

The per-engine readers (`vllm_argdefs`, `sglang_argdefs`, `tgi_argdefs`) derive these from
the engines' source files exactly as their parsers do; `as_rows` renders them as the rows of
the ``flags:`` tables in ``wfgy_rules/providers/serving/engines.yaml``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from tests.providers.serving.pysource import SourceTree

SWITCH_ACTIONS = {"store_true", "store_false", "store_const", "count", "help", "version"}


@dataclass(frozen=True)
class FlagDef:
    names: tuple[str, ...]
    takes: str  # none | value | optional | list
    path: str
    line: int
    negations: tuple[str, ...] = ()


def as_rows(flags: list[FlagDef]) -> list[dict]:
    """Rows as engines.yaml stores them (sorted by first name; ``source`` is path:line)."""
    rows = []
    for flag in sorted(flags, key=lambda f: f.names[0]):
        row = {"names": list(flag.names), "takes": flag.takes}
        if flag.negations:
            row["negations"] = list(flag.negations)
        row["source"] = f"{flag.path}:{flag.line}"
        rows.append(row)
    return rows


def union_members(expr: ast.expr | None) -> list[ast.expr]:
    """``int | None``, ``Optional[X]``, ``Union[..]`` and ``Annotated[X, ..]`` as their members."""
    if expr is None:
        return []
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        try:
            return union_members(ast.parse(expr.value, mode="eval").body)
        except SyntaxError:
            return [expr]
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
        return union_members(expr.left) + union_members(expr.right)
    if isinstance(expr, ast.Subscript):
        head = subscript_head(expr)
        items = expr.slice.elts if isinstance(expr.slice, ast.Tuple) else [expr.slice]
        if head == "Optional":
            return union_members(items[0]) + [ast.Constant(None)]
        if head == "Union":
            return [m for item in items for m in union_members(item)]
        if head == "Annotated":
            return union_members(items[0])
    return [expr]


def subscript_head(expr: ast.expr) -> str | None:
    """``list`` for ``list[int]``, ``Literal`` for ``typing.Literal[..]``."""
    value = expr.value if isinstance(expr, ast.Subscript) else expr
    if isinstance(value, ast.Name):
        return value.id
    if isinstance(value, ast.Attribute):
        return value.attr
    return None


COLLECTIONS = {"list", "List", "tuple", "Tuple", "set", "Set"}
DICTS = {"dict", "Dict"}


def member_kinds(tree: SourceTree, path: str, expr: ast.expr, depth: int = 0) -> set[str]:
    """The kinds of one union member: bool, str, int, float, none, dict, list, literal,
    dataclass, class, other (type aliases are followed to their definition)."""
    if isinstance(expr, ast.Constant):
        return {"none"} if expr.value is None else {"other"}
    if isinstance(expr, ast.Subscript):
        head = subscript_head(expr)
        if head in COLLECTIONS:
            return {"list"}
        if head in DICTS:
            return {"dict"}
        if head == "Literal":
            return {"literal"}
        return {"other"}
    if isinstance(expr, ast.Name):
        if expr.id in {"bool", "str", "int", "float"}:
            return {expr.id}
        if expr.id in DICTS:
            return {"dict"}
        if expr.id in COLLECTIONS:
            return {"list"}
        if depth > 8:
            return {"other"}
        found = tree.resolve(path, expr.id)
        if found is None:
            return {"other"}
        if isinstance(found.node, ast.ClassDef):
            return {"dataclass"} if _is_dataclass(found.node) else {"class"}
        kinds: set[str] = set()
        for member in union_members(found.node):
            kinds |= member_kinds(tree, found.path, member, depth + 1)
        return kinds
    return {"other"}


def _is_dataclass(node: ast.ClassDef) -> bool:
    names = set()
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        names.add(target.id if isinstance(target, ast.Name) else getattr(target, "attr", ""))
    return bool(names & {"dataclass", "config"})


def annotation_kinds(tree: SourceTree, path: str, annotation: ast.expr) -> set[str]:
    kinds: set[str] = set()
    for member in union_members(annotation):
        kinds |= member_kinds(tree, path, member)
    return kinds


def takes_from_nargs(nargs: ast.expr | None) -> str | None:
    """``?`` -> optional, ``+``/``*``/N -> list, 0 -> none; None when nargs is not a constant."""
    if not isinstance(nargs, ast.Constant):
        return None
    if nargs.value == "?":
        return "optional"
    if nargs.value in ("+", "*") or (isinstance(nargs.value, int) and nargs.value > 0):
        return "list"
    if nargs.value == 0:
        return "none"
    if nargs.value is None:
        return "value"
    return None


def takes_from_action(action: ast.expr | None) -> str | None:
    """A string action's arity (``store_true`` -> none); None for action classes."""
    if isinstance(action, ast.Constant) and isinstance(action.value, str):
        return "none" if action.value in SWITCH_ACTIONS else "value"
    return None


def is_boolean_optional(action: ast.expr | None) -> bool:
    return isinstance(action, (ast.Name, ast.Attribute)) and subscript_head(action) == "BooleanOptionalAction"


def class_fields(tree: SourceTree, path: str, node: ast.ClassDef) -> list[tuple[str, ast.AnnAssign]]:
    """Annotated fields of a class and its bases (bases first), as (file, field) pairs."""
    fields: list[tuple[str, ast.AnnAssign]] = []
    for base in node.bases:
        if isinstance(base, ast.Name):
            found = tree.find_class(path, base.id)
            if found is not None:
                fields.extend(class_fields(tree, found.path, found.node))
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            if subscript_head(item.annotation) != "ClassVar":
                fields = [f for f in fields if f[1].target.id != item.target.id]
                fields.append((path, item))
    return fields
