"""Pure placeholder scanners: which variables a prompt template expects, and where.

``scan(text, syntax)`` returns ``(placeholders, problems)``, both sorted by position. Lines
and columns are 1-based and point at the variable's *name* (the ``x`` of ``{{ x }}``,
``${x}``, ``$x`` or ``{x}``); CRLF and CR line ends count as one line end. Only root names
are reported: ``user.name``, ``user['name']`` and ``{user.name}`` are all ``user``.

=================  =========================================  ==========================
syntax             placeholders                               ``default: true`` when
=================  =========================================  ==========================
``jinja2``         every free variable (not set, not a loop   ``x | default(…)`` /
                   or macro variable, not a Jinja global       ``x | d(…)``, or guarded by
                   such as ``range``); ``{% raw %}`` and       ``x is defined`` /
                   ``{{ '{{' }}`` are text                     ``is undefined`` in an
                                                               ``if`` or ``… if … else …``
``chat_template``  as ``jinja2``; the runtime names            as ``jinja2``
                   (`RUNTIME_NAMES`) are still reported,
                   callers treat them as supplied
``mustache``       ``{{x}}``, ``{{{x}}}``, ``{{&x}}``, a       never
                   section ``{{#x}}``/``{{^x}}`` once; not
                   ``{{/x}}``, ``{{! …}}``, ``{{> partial}}``,
                   ``\\{{x}}``; ``{{=<% %>=}}`` changes the
                   delimiters; Handlebars ``{{#if x}}`` and
                   ``{{helper x}}`` report ``x``
``dollar``         ``$X`` and ``${X}``; ``$$`` is a literal    ``${X:-d}``, ``${X-d}``,
                   dollar                                      ``${X:=d}``, ``${X:+alt}``
                                                               (``${X:?err}`` is required)
``format``         ``{x}``, ``{x.attr}``, ``{x[0]}`` and       never
                   nested ``{x:{width}}``; ``{{``/``}}``,
                   positional ``{}``/``{0}`` and fields that
                   are not identifiers (``{"a": 1}``) are not
=================  =========================================  ==========================

Problems are template syntax errors: Jinja's own parse errors (column unknown: null),
unclosed or mismatched Mustache tags. ``dollar`` and ``format`` text never has problems
(a stray brace is just text). Jinja templates are parsed, never rendered; includes are not
followed. Jinja is imported on first use.
"""

from __future__ import annotations

import bisect
import re
import string
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

# Names a Hugging Face chat template receives from the runtime (transformers' renderer).
RUNTIME_NAMES: dict[str, frozenset[str]] = {
    "chat_template": frozenset(
        {
            "messages", "add_generation_prompt", "bos_token", "eos_token", "pad_token",
            "unk_token", "tools", "documents", "custom_tools", "tools_in_user_message",
            "builtin_tools", "date_string", "raise_exception", "strftime_now", "tojson",
        }
    )
}


@dataclass(frozen=True)
class Placeholder:
    """One occurrence of a variable in a template."""

    name: str
    line: int
    column: int
    default: bool = False  # an inline default or a definedness guard resolves it


@dataclass(frozen=True)
class SyntaxProblem:
    """A template syntax error; ``column`` is None where the parser does not know it."""

    line: int
    column: int | None
    message: str


Scanner = Callable[[str], tuple[list[Placeholder], list[SyntaxProblem]]]


def scan(text: str, syntax: str) -> tuple[list[Placeholder], list[SyntaxProblem]]:
    """The placeholders and syntax problems of ``text`` read as ``syntax`` (see `SCANNERS`)."""
    if not may_contain(text, syntax):
        return [], []
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    placeholders, problems = SCANNERS[syntax][1](text)
    placeholders.sort(key=lambda p: (p.line, p.column, p.name))
    problems.sort(key=lambda p: (p.line, p.column or 0))
    return placeholders, problems


def may_contain(text: str, syntax: str) -> bool:
    """Whether ``text`` holds a marker of ``syntax`` at all (a cheap test before parsing)."""
    return any(marker in text for marker in SCANNERS[syntax][0])


class _Locator:
    """Offset -> (line, column), both 1-based, for text with ``\\n`` line ends."""

    def __init__(self, text: str):
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def __call__(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


# --- dollar: $X ${X} ${X:-d} ${X-d} ${X:=d} ${X:+a} ${X:?e}, $$ --------------------------

_DOLLAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(\}|:?[-=+?])|([A-Za-z_][A-Za-z0-9_]*))")


def _scan_dollar(text: str) -> tuple[list[Placeholder], list[SyntaxProblem]]:
    at = _Locator(text)
    found = []
    for match in _DOLLAR.finditer(text):
        group = 1 if match.group(1) else 3
        if match.group(group) is None:  # $$
            continue
        default = (match.group(2) or "").lstrip(":") in ("-", "=", "+")
        found.append(Placeholder(match.group(group), *at(match.start(group)), default))
    return found, []


# --- format: str.format / LangChain f-string ---------------------------------------------

_FORMAT = re.compile(r"\{\{|\}\}|\{((?:[^{}]|\{[^{}]*\})*)\}")
_FIELD = re.compile(r"([A-Za-z_]\w*)(?:\.\w+|\[[^\]]*\])*")


def _scan_format(text: str) -> tuple[list[Placeholder], list[SyntaxProblem]]:
    at = _Locator(text)
    return [Placeholder(name, *at(offset)) for name, offset in _format_fields(text, 0, len(text))], []


def _format_fields(text: str, start: int, end: int) -> Iterator[tuple[str, int]]:
    for match in _FORMAT.finditer(text, start, end):
        if match.group(1) is None:  # {{ or }}
            continue
        try:
            (_, name, spec, _), *_ = string.Formatter().parse(match.group(0))
        except ValueError:
            continue
        field = _FIELD.fullmatch(name or "")
        if field:
            yield field.group(1), match.start(1)
        if spec:
            yield from _format_fields(text, match.end(1) - len(spec), match.end(1))


# --- mustache / handlebars ----------------------------------------------------------------

_SIGILS = "#^/&>!{"
_LITERALS = frozenset({"else", "this", ".", "true", "false", "null", "undefined", "as"})
_WORD = re.compile(r"[^\s~]+")


@dataclass
class _MustacheState:
    at: _Locator
    found: list[Placeholder]
    problems: list[SyntaxProblem]
    sections: list[tuple[str, int]]  # open sections: (name, offset)


def _scan_mustache(text: str) -> tuple[list[Placeholder], list[SyntaxProblem]]:
    state = _MustacheState(_Locator(text), [], [], [])
    opening, closing, pos = "{{", "}}", 0
    while (start := text.find(opening, pos)) != -1:
        if text[start - 1 : start] == "\\":  # \{{ is literal text
            pos = start + len(opening)
            continue
        inner = start + len(opening)
        end_mark = _end_mark(text, inner, opening, closing)
        end = text.find(end_mark, inner)
        if end == -1:
            state.problems.append(SyntaxProblem(*state.at(start), f"unclosed tag {opening!r}"))
            break
        pos = end + len(end_mark)
        body = text[inner:end]
        if body.startswith("=") and body.endswith("="):
            opening, closing = _delimiters(body, start, opening, closing, state)
        else:
            _mustache_tag(body, inner, state)
    for name, offset in state.sections:
        state.problems.append(SyntaxProblem(*state.at(offset), f"unclosed section {name!r}"))
    return state.found, state.problems


def _end_mark(text: str, inner: int, opening: str, closing: str) -> str:
    if opening == "{{" and text.startswith("{", inner):
        return "}" + closing  # {{{raw}}}
    if text.startswith("!--", inner):
        return "--" + closing  # handlebars {{!-- may hold }} --}}
    return closing


def _delimiters(body: str, start: int, opening: str, closing: str, state: _MustacheState) -> tuple[str, str]:
    parts = body[1:-1].split()
    if len(parts) == 2:
        return parts[0], parts[1]
    state.problems.append(SyntaxProblem(*state.at(start), "a set-delimiter tag needs two delimiters: {{=<% %>=}}"))
    return opening, closing


def _mustache_tag(body: str, inner: int, state: _MustacheState) -> None:
    words = [(m.group(), inner + m.start()) for m in _WORD.finditer(body)]
    if not words:
        return
    sigil = words[0][0][0] if words[0][0][0] in _SIGILS else ""
    if sigil:
        head, offset = words[0]
        words = ([(head[1:], offset + 1)] if head[1:] else []) + words[1:]
    if sigil in ("!", ">") or not words:
        return
    if sigil == "/":
        _close_section(words[0][0], words[0][1], state)
        return
    if sigil in ("#", "^"):
        state.sections.append((words[0][0], words[0][1]))
    names = words if len(words) == 1 else _helper_arguments(words[1:])
    for word, offset in names:
        root = _mustache_root(word)
        if root:
            state.found.append(Placeholder(root, *state.at(offset + word.index(root))))


def _close_section(name: str, offset: int, state: _MustacheState) -> None:
    if state.sections and state.sections[-1][0] == name:
        state.sections.pop()
        return
    expected = f", expected {{{{/{state.sections[-1][0]}}}}}" if state.sections else ""
    state.problems.append(SyntaxProblem(*state.at(offset), f"closing section {name!r} was never opened{expected}"))


def _helper_arguments(words: list[tuple[str, int]]) -> Iterator[tuple[str, int]]:
    """``{{helper a key=b as |c|}}``: the arguments ``a`` and ``b`` (block params stop it)."""
    for word, offset in words:
        if word == "as":
            return
        key, equals, value = word.partition("=")
        yield (value, offset + len(key) + 1) if equals else (word, offset)


def _mustache_root(word: str) -> str | None:
    while word.startswith("../"):
        word = word[3:]
    if not word or word in _LITERALS or word[0] in "@\"'|(" or word[0].isdigit() or word.startswith("this."):
        return None
    return word.split(".")[0] or None


# --- jinja2 / chat_template ---------------------------------------------------------------

_DEFAULT_FILTERS = frozenset({"default", "d"})
_DEFINED_TESTS = frozenset({"defined", "undefined"})
_RESERVED = frozenset({"self"})  # the template's own blocks


@cache
def _jinja_environment() -> Any:
    """A parse-only environment: loop controls, ``do`` and HF's ``{% generation %}``.

    Its lexer keeps the raw tokens of the template each thread lexed last, so finding the
    columns of names needs no second lexing pass.
    """
    from jinja2 import Environment, nodes
    from jinja2.ext import Extension
    from jinja2.lexer import Lexer

    class GenerationBlock(Extension):
        """``{% generation %}…{% endgeneration %}`` of Hugging Face chat templates."""

        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

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

    environment = ParseEnvironment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do", GenerationBlock])
    environment.recorder = RecordingLexer(environment)
    return environment


_TAG_OPEN = re.compile(r"\{[{%#]")
_TAG_CLOSE = {"{{": "}}", "{%": "%}", "{#": "#}"}
_SKELETON_MIN_CHARS = 4096


def _skeleton(text: str) -> str:
    """``text`` with every line that holds no part of a tag emptied.

    Jinja's lexer walks data text character by character; a 10 KB prompt with one
    ``{{ name }}`` costs as much as a 10 KB template. Emptying lines that are pure data keeps
    every line number, and every column on the lines that are kept, so positions and syntax
    errors come out the same while the parser sees only the tags. A line is kept when it
    holds a ``{`` or continues a tag opened on an earlier line."""
    if len(text) < _SKELETON_MIN_CHARS:
        return text
    lines = text.split("\n")
    pending: str | None = None
    for index, line in enumerate(lines):
        if pending is None and "{" not in line:
            lines[index] = ""
        else:
            pending = _still_open(line, pending)
    return "\n".join(lines)


def _still_open(line: str, pending: str | None) -> str | None:
    """The closing delimiter a tag opened on or before ``line`` still waits for, if any."""
    position = 0
    while True:
        if pending is not None:
            end = line.find(pending, position)
            if end < 0:
                return pending
            position, pending = end + 2, None
        match = _TAG_OPEN.search(line, position)
        if match is None:
            return None
        pending, position = _TAG_CLOSE[match.group()], match.end()


def _scan_jinja(text: str) -> tuple[list[Placeholder], list[SyntaxProblem]]:
    from jinja2 import TemplateSyntaxError

    text = _skeleton(text)
    environment = _jinja_environment()
    try:
        tree = environment.parse(text)
        walker = _JinjaWalker(frozenset(environment.globals) | _RESERVED)
        walker.body(tree.body, set(), frozenset())
    except TemplateSyntaxError as exc:
        return [], [SyntaxProblem(exc.lineno, None, exc.message or str(exc))]
    except RecursionError:
        return [], [SyntaxProblem(1, None, "template nests too deeply to analyse")]
    if not any(slot[2] for slot in walker.slots):
        return [], []
    return walker.placeholders(_jinja_name_offsets(environment.lexer.recorded.tokens, text), _Locator(text)), []


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

    A slot is ``(name, line, report, default)``; slots that are not reported (store names,
    macro parameters, keyword-argument keys, …) still count, so the k-th slot of a name on a
    line can be matched with the k-th name token of that line.
    """

    def __init__(self, builtins: frozenset[str]):
        self.builtins = builtins
        self.slots: list[tuple[str, int, bool, bool]] = []

    def placeholders(self, offsets: dict[tuple[int, str], list[int]], at: _Locator) -> list[Placeholder]:
        seen: dict[tuple[int, str], int] = defaultdict(int)
        found = []
        for name, line, report, default in self.slots:
            index = seen[(line, name)]
            seen[(line, name)] += 1
            if report:
                candidates = offsets.get((line, name))
                column = at(candidates[min(index, len(candidates) - 1)])[1] if candidates else 1
                found.append(Placeholder(name, line, column, default))
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

    def slot(self, name: str, line: int, report: bool = False, default: bool = False) -> None:
        self.slots.append((name, line, report, default))

    def name(self, node: Any, bound: set[str], guarded: frozenset[str], default: bool = False) -> None:
        free = node.ctx == "load" and node.name not in bound and node.name not in self.builtins
        self.slot(node.name, node.lineno, free, default or node.name in guarded)

    def branch(self, items: Iterable[Any], bound: set[str], guarded: frozenset[str]) -> set[str]:
        """Walk a branch in its own copy of ``bound``; return the names it binds."""
        inner = set(bound)
        self.body(items, inner, guarded)
        return inner - bound


def _stored(target: Any) -> set[str]:
    if type(target).__name__ == "Name":
        return {target.name}
    return {n.name for n in _descendants(target) if type(n).__name__ == "Name"}


def _descendants(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.iter_child_nodes())


def _tested(tests: Iterable[Any]) -> frozenset[str]:
    """Names tested with ``is defined`` / ``is undefined`` anywhere in ``tests``."""
    return frozenset(
        n.node.name
        for test in tests
        for n in _descendants(test)
        if type(n).__name__ == "Test" and n.name in _DEFINED_TESTS and type(n.node).__name__ == "Name"
    )


def _visit_name(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.name(node, bound, guarded)


def _visit_nsref(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.slot(node.name, node.lineno, node.name not in bound)


def _visit_keyword(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.slot(node.key, node.lineno)
    w.visit(node.value, bound, guarded)


def _visit_filter_or_test(names: frozenset[str]) -> Callable[..., None]:
    def visit(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
        if node.node is None:  # {% filter upper %}: the filter name stands alone
            w.slot(node.name, node.lineno)
        elif node.name in names and type(node.node).__name__ == "Name":
            w.name(node.node, bound, guarded, default=True)
        else:
            w.visit(node.node, bound, guarded)
        w.body(node.iter_child_nodes(exclude=("node",)), bound, guarded)

    return visit


def _visit_condexpr(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    guarded = guarded | _tested([node.test])
    w.body([e for e in (node.expr1, node.test, node.expr2) if e is not None], bound, guarded)


def _visit_if(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    chain = [(node.test, node.body), *((e.test, e.body) for e in node.elif_)]
    guarded = guarded | _tested(test for test, _ in chain)
    added = []
    for test, body in chain:
        w.visit(test, bound, guarded)
        added.append(w.branch(body, bound, guarded))
    added.append(w.branch(node.else_, bound, guarded))
    bound |= set.intersection(*added)  # bound after the if only when every branch binds it


def _visit_for(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    w.visit(node.target, bound, guarded)
    w.visit(node.iter, bound, guarded)
    inner = bound | _stored(node.target) | {"loop"}
    if node.test is not None:
        w.visit(node.test, inner, guarded)
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
    _visit_callable(w, node, bound, guarded, {"varargs", "kwargs", "caller"})
    bound.add(node.name)


def _visit_call_block(w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str]) -> None:
    _visit_callable(w, node, bound, guarded, {"varargs", "kwargs"}, call=node.call)


def _visit_callable(
    w: _JinjaWalker, node: Any, bound: set[str], guarded: frozenset[str], implicit: set[str], call: Any = None
) -> None:
    w.body([*node.args, *node.defaults, *([call] if call is not None else [])], bound, guarded)
    w.body(node.body, bound | {a.name for a in node.args} | implicit, guarded)


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


_JINJA_HANDLERS: dict[str, Callable[[_JinjaWalker, Any, set[str], frozenset[str]], None]] = {
    "Name": _visit_name,
    "NSRef": _visit_nsref,
    "Keyword": _visit_keyword,
    "Filter": _visit_filter_or_test(_DEFAULT_FILTERS),
    "Test": _visit_filter_or_test(_DEFINED_TESTS),
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


# --- dispatch -----------------------------------------------------------------------------

# syntax -> (markers, scanner): text without any marker has no placeholders and is not parsed.
SCANNERS: dict[str, tuple[tuple[str, ...], Scanner]] = {
    "jinja2": (("{{", "{%"), _scan_jinja),
    "chat_template": (("{{", "{%"), _scan_jinja),
    "mustache": (("{{",), _scan_mustache),
    "dollar": (("$",), _scan_dollar),
    "format": (("{",), _scan_format),
}
SYNTAXES: tuple[str, ...] = tuple(SCANNERS)
