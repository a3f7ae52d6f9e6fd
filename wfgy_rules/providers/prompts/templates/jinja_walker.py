"""Placeholders of a Jinja template (``jinja2`` and ``chat_template`` syntaxes), with positions.

``scan_jinja(text)`` parses ``text`` (``\\n`` line ends: `wfgy_rules.providers.prompts.templates.placeholders.scan`
normalises them) with Jinja's own parser, never rendering it or following an include, and
walks the tree, keeping track of the names bound so far. It returns ``(placeholders,
problems)`` in no particular order, like every scanner that ``scan`` dispatches to:

* **A placeholder** is a free variable: a name read (``{{ x }}``, ``{% if x %}``,
  ``{{ f(x) }}``) that nothing in the template bound and that is not a Jinja global
  (``range``, ``dict``, ``namespace``, …) or ``self``. Only the root is reported:
  ``{{ user.name }}`` and ``{{ user['name'] }}`` are ``user``. Attribute, filter and test
  names (``x.upper``, ``x | upper``, ``x is odd``) and keyword-argument keys are not
  variables. Every occurrence is reported, each at the line and column of its name.
* **default: true** marks an occurrence the template copes without: every occurrence of a
  name with a default anywhere in the file (`jinja_scopes`: ``| default(…)``, ``is defined``,
  ``{% set x = x or … %}``, a macro that tests its argument for definedness).
* **optional: true** marks an occurrence that is only tested, never needed as a value: in an
  ``if`` / ``… if … else`` / loop-filter test, the operand of a test (``x is none``) or of a
  comparison (``x == 'a'``, ``'a' in x``) even through filters (``x | upper == 'S'``);
  inside a branch whose test reads ``x``; as an argument of a macro parameter that is only
  tested; a free name called as a function (a helper the renderer registers). A name is
  needed where it is output, dereferenced (``x.a``, ``x[0]``), computed with (``x + 1``,
  ``x ~ 'a'``), iterated or passed on.
* **Bound names** are not placeholders: ``{% set %}`` (a block ``set`` too) binds from
  there on, ``{% set x = x ~ '!' %}`` still reads the outer ``x`` once; a ``set`` inside an
  ``if`` branch binds after it (a local on some path: a path that misses it is a template
  bug, not a missing input). ``{% for %}`` targets and ``loop`` are bound in the loop body
  and its ``if`` filter, not after the loop; macros anywhere in the file, and template-level
  ``set`` names inside macro bodies; macro parameters (and ``varargs``, ``kwargs``,
  ``caller``) in the macro's body; call-block parameters (and ``varargs``, ``kwargs``) in the
  block; ``{% with %}`` names in its block; ``{% import %}`` and ``{% from … import %}``
  names after the tag; ``super`` inside a ``{% block %}``.
* **Text is text**: ``{% raw %}…{% endraw %}``, comments and string literals such as
  ``{{ '{{' }}`` hold no placeholders.
* **Problems** are Jinja's parse errors, ``(line, None, message)`` (Jinja does not give a
  column), or "template nests too deeply to analyse"; with a problem there are no
  placeholders.

The parse environment knows ``{% break %}``/``{% continue %}``, ``{% do %}`` and Hugging
Face's ``{% generation %}…{% endgeneration %}``. Columns come from the lexer's tokens: the
lexer records the raw tokens it yields, and the k-th occurrence of a name on a line in the
tree is matched with the k-th name token of that line in the text.

Text of 4096 characters or more is first reduced to its skeleton
(`wfgy_rules.providers.prompts.templates.jinja_skeleton`): results and positions are those of the
full text.

jinja2 is imported on the first scan, never when this module is imported.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any

from wfgy_rules.providers.prompts.templates.jinja_extension import generation_block
from wfgy_rules.providers.prompts.templates.jinja_scopes import (
    DEFAULT_FILTERS,
    FileScope,
    descendants,
)
from wfgy_rules.providers.prompts.templates.jinja_skeleton import skeleton
from wfgy_rules.providers.prompts.templates.scan_results import (
    Locator,
    Placeholder,
    SyntaxProblem,
)

_RESERVED = frozenset({"self"})  # the template's own blocks


@cache
def _jinja_environment() -> Any:
    """A parse-only environment: loop controls, ``do`` and HF's ``{% generation %}``.

    Its lexer keeps the raw tokens of the template each thread lexed last, so finding the
    columns of names needs no second lexing pass.
    """
    from jinja2 import Environment
    from jinja2.lexer import Lexer

    class RecordingLexer(Lexer):
        recorded = threading.local()

        def tokeniter(self, *args: Any, **kwargs: Any) -> Iterator[tuple[int, str, str]]:
            tokens = self.recorded.tokens = []
            for token in super().tokeniter(*args, **kwargs):
                tokens.append(token)
                yield token

    class ParseEnvironment(Environment):
        recorder: RecordingLexer

        @property
        def lexer(self) -> Lexer:
            return self.recorder

    environment = ParseEnvironment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do", generation_block()])
    environment.recorder = RecordingLexer(environment)
    return environment


def scan_jinja(text: str) -> tuple[list[Placeholder], list[SyntaxProblem]]:
    from jinja2 import TemplateSyntaxError

    text = skeleton(text)
    environment = _jinja_environment()
    builtins = frozenset(environment.globals) | _RESERVED
    try:
        tree = environment.parse(text)
        scope = FileScope.of(tree, lambda macro, scope: _macro_parameters(macro, scope, builtins))
        walker = _JinjaWalker(builtins, scope)
        walker.body(tree.body, set(scope.macros), frozenset())
    except TemplateSyntaxError as exc:
        return [], [SyntaxProblem(exc.lineno, None, exc.message or str(exc))]
    except RecursionError:
        return [], [SyntaxProblem(1, None, "template nests too deeply to analyse")]
    if not any(slot[2] for slot in walker.slots):
        return [], []
    return walker.placeholders(_jinja_name_offsets(environment.lexer.recorded.tokens, text), Locator(text)), []


def _macro_parameters(macro: Any, scope: FileScope, builtins: frozenset[str]) -> dict[str, bool]:
    """{parameter: only tested} for ``macro``: its body walked with the parameters left free."""
    walker = _JinjaWalker(builtins, scope)
    params = {a.name for a in macro.args}
    walker.body(macro.body, (set(scope.macros) | _CALLABLE_IMPLICIT) - params, frozenset())
    kinds: dict[str, bool] = {p: True for p in params}
    for name, _, report, default, optional in walker.slots:
        if report and name in kinds and not (default or optional):
            kinds[name] = False
    return kinds


def _jinja_name_offsets(tokens: list[tuple[int, str, str]], text: str) -> dict[tuple[int, str], list[int]]:
    """Offsets of the name tokens that can be variables, by (line, name), in source order.

    Attribute names (after ``.``), filter names (after ``|``) and test names (after ``is``
    / ``is not``) are left out; tokens are located by searching forward for their raw text
    (whitespace that ``-`` trims is missing from them).
    """
    offsets: dict[tuple[int, str], list[int]] = defaultdict(list)
    pos, previous = 0, ("", "")
    for line, kind, value in tokens:
        start = text.find(value, pos)
        start = pos if start == -1 else start
        pos = start + len(value)
        if kind == "whitespace":
            continue
        if kind == "name" and previous[1] not in (".", "|", "is") and previous != ("is", "not"):
            offsets[(line, value)].append(start)
        previous = (previous[1], value)
    return offsets


class _JinjaWalker:
    """Walks a Jinja AST with the names bound so far, recording one slot per name token.

    A slot is ``(name, line, report, default, optional)``; slots that are not reported (store
    names, macro parameters, keyword-argument keys, …) still count, so the k-th slot of a name
    on a line can be matched with the k-th name token of that line. ``testing`` is true while
    the walker is inside an expression whose value is only tested (see the module docstring).
    """

    def __init__(self, builtins: frozenset[str], scope: FileScope):
        self.builtins = builtins
        self.scope = scope
        self.testing = False
        self.slots: list[tuple[str, int, bool, bool, bool]] = []

    def placeholders(self, offsets: dict[tuple[int, str], list[int]], at: Locator) -> list[Placeholder]:
        seen: dict[tuple[int, str], int] = defaultdict(int)
        found = []
        for name, line, report, default, optional in self.slots:
            index = seen[(line, name)]
            seen[(line, name)] += 1
            if report:
                candidates = offsets.get((line, name))
                column = at(candidates[min(index, len(candidates) - 1)])[1] if candidates else 1
                found.append(Placeholder(name, line, column, default, optional and not default))
        return found

    def body(self, items: Iterable[Any], bound: set[str], guarded: frozenset[str]) -> None:
        for node in items:
            self.visit(node, bound, guarded)

    def visit(self, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
        handler = _JINJA_HANDLERS.get(type(node).__name__)
        if handler is None:
            self.body(node.iter_child_nodes(), bound, guarded)
        else:
            handler(self, node, bound, guarded)

    def visit_as(self, testing: bool, nodes: Iterable[Any], bound: set[str], guarded: frozenset[str]) -> None:
        """Visit ``nodes`` as tested (``testing``) or as needed values, then restore the mode."""
        outer, self.testing = self.testing, testing
        try:
            self.body(nodes, bound, guarded)
        finally:
            self.testing = outer

    def slot(self, name: str, line: int, report: bool = False, default: bool = False, optional: bool = False) -> None:
        self.slots.append((name, line, report, default, optional))

    def name(self, node: Any, bound: set[str], guarded: frozenset[str], default: bool = False) -> None:
        free = node.ctx == "load" and node.name not in bound and node.name not in self.builtins
        default = default or node.name in self.scope.defaults
        self.slot(node.name, node.lineno, free, default, self.testing or node.name in guarded)

    def branch(self, items: Iterable[Any], bound: set[str], guarded: frozenset[str]) -> set[str]:
        """Walk a branch in its own copy of ``bound``; return the names it binds."""
        inner = set(bound)
        self.body(items, inner, guarded)
        return inner - bound


_CALLABLE_IMPLICIT = {"varargs", "kwargs", "caller"}


def _stored(target: Any) -> set[str]:
    if type(target).__name__ == "Name":
        return {target.name}
    return {n.name for n in descendants(target) if type(n).__name__ == "Name"}


def _names_in(tests: Iterable[Any]) -> frozenset[str]:
    """The root names read anywhere in ``tests``: a branch under these tests is guarded by them."""
    return frozenset(n.name for test in tests for n in descendants(test) if type(n).__name__ == "Name" and n.ctx == "load")


def _visit_name(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.name(node, bound, guarded)


def _visit_nsref(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.slot(node.name, node.lineno, node.name not in bound)


def _visit_keyword(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.slot(node.key, node.lineno)
    w.visit(node.value, bound, guarded)


def _visit_filter(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    """``x | f(…)``: ``x`` keeps the mode (``safety_mode | upper == 'STRICT'`` only tests it)."""
    if node.node is None:  # {% filter upper %}: the filter name stands alone
        w.slot(node.name, node.lineno)
    elif node.name in DEFAULT_FILTERS and type(node.node).__name__ == "Name":
        w.name(node.node, bound, guarded, default=True)
    else:
        w.visit(node.node, bound, guarded)
    w.body(node.iter_child_nodes(exclude=("node",)), bound, guarded)


def _visit_test(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    """``x is none``, ``x is defined``: the operand and the arguments are only tested."""
    w.visit_as(True, node.iter_child_nodes(), bound, guarded)


def _visit_compare(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    """``x == 'a'``, ``'a' in x``: an undefined operand compares, it does not fail."""
    w.visit_as(True, node.iter_child_nodes(), bound, guarded)


def _visit_needed(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    """``x.a``, ``x[0]``, ``x + 1``, ``x ~ 'a'``: an undefined operand fails, so it is needed."""
    w.visit_as(False, node.iter_child_nodes(), bound, guarded)


def _visit_call(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    """``f(a, k=b)``: an argument is needed unless it goes to a macro parameter that is only tested."""
    callee = node.node.name if type(node.node).__name__ == "Name" else None
    w.visit_as(callee is not None, [node.node], bound, guarded)  # a free function: the renderer's helper
    for position, argument in enumerate(node.args):
        w.visit_as(callee is not None and w.scope.tested_argument(callee, position, None), [argument], bound, guarded)
    for keyword in node.kwargs:
        w.slot(keyword.key, keyword.lineno)
        w.visit_as(callee is not None and w.scope.tested_argument(callee, None, keyword.key), [keyword.value], bound, guarded)
    w.visit_as(False, [n for n in (node.dyn_args, node.dyn_kwargs) if n is not None], bound, guarded)


def _visit_condexpr(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.visit_as(True, [node.test], bound, guarded)
    guarded = guarded | _names_in([node.test])
    w.body([e for e in (node.expr1, node.expr2) if e is not None], bound, guarded)


def _visit_if(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    chain = [(node.test, node.body), *((e.test, e.body) for e in node.elif_)]
    inside = guarded | _names_in(test for test, _ in chain)  # the branches, not the tests
    added = []
    for test, body in chain:
        w.visit_as(True, [test], bound, guarded)
        added.append(w.branch(body, bound, inside))
    added.append(w.branch(node.else_, bound, inside))
    bound |= set.union(*added)  # a local on some path: a path that misses it is a template bug


def _visit_for(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.visit(node.target, bound, guarded)
    w.visit(node.iter, bound, guarded)
    inner = bound | _stored(node.target) | {"loop"}
    if node.test is not None:
        w.visit_as(True, [node.test], inner, guarded)
    w.body(node.body, inner, guarded)
    w.branch(node.else_, bound, guarded)


def _visit_assign(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.visit(node.target, bound, guarded)
    w.visit(node.node, bound, guarded)
    bound |= _stored(node.target)


def _visit_assign_block(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.visit(node.target, bound, guarded)
    if node.filter is not None:
        w.visit(node.filter, bound, guarded)
    w.body(node.body, bound, guarded)
    bound |= _stored(node.target)


def _visit_macro(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.slot(node.name, node.lineno)
    _visit_callable(w, node, bound, guarded, _CALLABLE_IMPLICIT)
    bound.add(node.name)


def _visit_call_block(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    _visit_callable(w, node, bound, guarded, {"varargs", "kwargs"}, call=node.call)


def _visit_callable(
    w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str], implicit: set[str], call: Any = None
) -> None:
    w.body([*node.args, *node.defaults, *([call] if call is not None else [])], bound, guarded)
    w.body(node.body, bound | w.scope.globals | {a.name for a in node.args} | implicit, guarded)


def _visit_with(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    names: set[str] = set()
    for target, value in zip(node.targets, node.values):
        w.visit(target, bound, guarded)
        w.visit(value, bound, guarded)
        names |= _stored(target)
    w.body(node.body, bound | names, guarded)


def _visit_block(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.slot(node.name, node.lineno)
    w.body(node.body, bound | {"super"}, guarded)


def _visit_import(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.visit(node.template, bound, guarded)
    w.slot(node.target, node.lineno)
    bound.add(node.target)


def _visit_from_import(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.visit(node.template, bound, guarded)
    for item in node.names:
        names = item if isinstance(item, tuple) else (item,)
        for name in names:
            w.slot(name, node.lineno)
        bound.add(names[-1])


_NEEDED = ("Getattr", "Getitem", "Add", "Sub", "Mul", "Div", "FloorDiv", "Mod", "Pow", "Neg", "Pos", "Concat")

_JINJA_HANDLERS: dict[str, Callable[[_JinjaWalker, Any, set[str], frozenset[str]], None]] = {
    "Name": _visit_name,
    "NSRef": _visit_nsref,
    "Keyword": _visit_keyword,
    "Filter": _visit_filter,
    "Test": _visit_test,
    "Compare": _visit_compare,
    "Call": _visit_call,
    **{kind: _visit_needed for kind in _NEEDED},
    "CondExpr": _visit_condexpr,
    "If": _visit_if,
    "For": _visit_for,
    "Assign": _visit_assign,
    "AssignBlock": _visit_assign_block,
    "Macro": _visit_macro,
    "CallBlock": _visit_call_block,
    "With": _visit_with,
    "Block": _visit_block,
    "Import": _visit_import,
    "FromImport": _visit_from_import,
}
