"""Whole-file facts about a parsed Jinja template that the walker needs before it walks.

`jinja_walker` walks a template once, in source order, binding names as it goes. Some of what
decides whether a free name is missing is only known from the whole file, and is found here
first (`FileScope.of`):

* **Macros** are callable from anywhere in the file: a macro called before its
  ``{% macro %}`` (from inside another macro's body) or by itself (a recursive JSON-schema
  renderer) is bound, not free.
* **Template-level variables** (``{% set %}`` outside loops and macros, imports) are seen by
  macro bodies, wherever the macro is defined: macros run when called.
* **Defaults**: a name with a default anywhere in the file is resolved throughout that file.
  A default is ``x | default(…)`` / ``x | d(…)``, a definedness test (``x is defined``,
  ``x is not defined``, ``x is undefined``: the ``{% if x is not defined %}{% set x = … %}``
  and ``x if x is defined else …`` idioms), a ``{% set x = x or … %}``, or ``x`` passed to
  a macro parameter the macro tests for definedness (``is_param_set(knobs)``).
* **Macro parameters that are only tested**: for each macro, which parameters its body only
  tests (truthiness, definedness, comparisons, filters) and never needs as a value. A name
  passed in such a parameter's place is an optional switch at the call site, like a name
  tested in place. Found by walking every macro body with its parameters left free, twice, so
  that a parameter passed on to another macro's tested parameter counts as tested too.

Only the root names matter here; the walker (`jinja_walker`) does the positions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

DEFAULT_FILTERS = frozenset({"default", "d"})
DEFINED_TESTS = frozenset({"defined", "undefined"})


@dataclass
class FileScope:
    """What the walker knows about the whole file before walking it."""

    macros: frozenset[str] = frozenset()
    defaults: frozenset[str] = frozenset()
    globals: frozenset[str] = frozenset()  # set at template level: macro bodies see them
    # macro name -> (parameter names in order, the names of the parameters only tested)
    tested_params: dict[str, tuple[tuple[str, ...], frozenset[str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, tree: Any, walk_macro: Callable[[Any, FileScope], dict[str, bool]]) -> FileScope:
        """The scope of ``tree``; ``walk_macro(macro, scope)`` -> {parameter: only tested}."""
        macros = [node for node in descendants(tree) if _kind(node) == "Macro"]
        scope = cls(frozenset(m.name for m in macros), _defaults(tree, macros), frozenset(_template_level(tree)))
        for _ in range(2):  # a parameter passed on to a tested parameter: known on the 2nd pass
            scope.tested_params = {
                m.name: (tuple(a.name for a in m.args), frozenset(p for p, tested in walk_macro(m, scope).items() if tested))
                for m in macros
            }
        return scope

    def tested_argument(self, callee: str, position: int | None, keyword: str | None) -> bool:
        """Whether the argument at ``position`` (or named ``keyword``) of ``callee`` is only tested."""
        params, tested = self.tested_params.get(callee, ((), frozenset()))
        if keyword is not None:
            return keyword in tested
        return position is not None and position < len(params) and params[position] in tested


def _defaults(tree: Any, macros: list[Any]) -> frozenset[str]:
    names = set()
    for node in descendants(tree):
        kind = _kind(node)
        if kind == "Filter" and node.name in DEFAULT_FILTERS and _kind(node.node) == "Name":
            names.add(node.node.name)
        elif kind == "Test" and node.name in DEFINED_TESTS and _kind(node.node) == "Name":
            names.add(node.node.name)
        elif kind == "Assign" and _kind(node.target) == "Name" and _or_of(node.node, node.target.name):
            names.add(node.target.name)  # {% set x = x or 'd' %}
    checkers = {m.name: [a.name for a in m.args] for m in macros}
    checked = {m.name: _defaults(m, []) for m in macros}  # parameters a macro tests for definedness
    for node in descendants(tree):  # is_param_set(knobs): a definedness test through a macro
        if _kind(node) == "Call" and _kind(node.node) == "Name" and node.node.name in checkers:
            params = checkers[node.node.name]
            passed = [*zip(params, node.args), *((k.key, k.value) for k in node.kwargs)]
            names |= {v.name for p, v in passed if _kind(v) == "Name" and p in checked[node.node.name]}
    return frozenset(names)


def _template_level(node: Any) -> Iterator[str]:
    """Names set outside loops and macros (``{% set %}``, imports): the template's own variables."""
    for child in node.iter_child_nodes():
        kind = _kind(child)
        if kind in ("Assign", "AssignBlock"):
            yield from (n.name for n in descendants(child.target) if _kind(n) == "Name")
        elif kind == "Import":
            yield child.target
        elif kind == "FromImport":
            yield from (item[-1] if isinstance(item, tuple) else item for item in child.names)
        if kind not in ("For", "Macro", "CallBlock") and hasattr(child, "iter_child_nodes"):
            yield from _template_level(child)


def _or_of(value: Any, name: str) -> bool:
    return _kind(value) == "Or" and _kind(value.left) == "Name" and value.left.name == name


def _kind(node: Any) -> str:
    return type(node).__name__


def descendants(node: Any) -> Iterator[Any]:
    """Every node of a Jinja AST below and including ``node``, without recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.iter_child_nodes())
