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
                   ``{{helper x}}`` report ``x``; inside
                   ``{{#each}}``/``{{#with}}``/``{{#x}}``
                   names may be the item's fields: only
                   ``../x`` is reported there
``dollar``         ``$X`` and ``${X}``; ``$$`` is a literal    ``${X:-d}``, ``${X-d}``,
                   dollar; promptflow's ``${inputs.X}`` is     ``${X:=d}``, ``${X:+alt}``,
                   ``X`` (``${node.output}`` and              ``${X="d"}`` (VS Code)
                   ``${env:X}`` are wiring, not variables)     (``${X:?err}`` is required)
``format``         ``{x}``, ``{x.attr}``, ``{x[0]}`` and       never
                   nested ``{x:{width}}``; ``{{``/``}}``,
                   positional ``{}``/``{0}`` and fields that
                   are not identifiers (``{"a": 1}``) are not
``semantic_kernel``  ``{{$x}}``, and ``$x`` arguments of        never
                   function calls (``{{recall $x}}``); see
                   `semantic_kernel`
=================  =========================================  ==========================

Problems are template syntax errors: Jinja's own parse errors (column unknown: null),
unclosed or mismatched Mustache tags. ``dollar`` and ``format`` text never has problems
(a stray brace is just text). Jinja templates are parsed, never rendered; includes are not
followed. Jinja is imported on first use. How the Jinja scanner binds names and finds
positions is documented in `wfgy_rules.providers.prompts.templates.jinja_walker`; the result types are in
`wfgy_rules.providers.prompts.templates.scan_results`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from wfgy_rules.providers.prompts.templates.chat_templates import (
    RUNTIME_NAMES as CHAT_RUNTIME_NAMES,
)
from wfgy_rules.providers.prompts.templates.jinja_walker import scan_jinja
from wfgy_rules.providers.prompts.templates.scan_results import (
    Locator,
    Placeholder,
    SyntaxProblem,
)
from wfgy_rules.providers.prompts.templates.semantic_kernel import scan_semantic_kernel

# Names a chat template receives from its runtime (see `chat_templates`).
RUNTIME_NAMES: dict[str, frozenset[str]] = {"chat_template": CHAT_RUNTIME_NAMES}


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


# --- dollar: $X ${X} ${X:-d} ${X-d} ${X:=d} ${X:+a} ${X:?e}, $$ --------------------------

_DOLLAR = re.compile(r"\$(?:\$|\{(?:inputs\.)?([A-Za-z_][A-Za-z0-9_]*)(\}|:?[-=+?])|([A-Za-z_][A-Za-z0-9_]*))")


def _scan_dollar(text: str) -> tuple[list[Placeholder], list[SyntaxProblem]]:
    at = Locator(text)
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
    at = Locator(text)
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
_CONTEXT_HELPERS = frozenset({"each", "with"})
_WORD = re.compile(r"[^\s~]+")


@dataclass
class _MustacheState:
    at: Locator
    found: list[Placeholder]
    problems: list[SyntaxProblem]
    sections: list[tuple[str, int, bool]]  # open sections: (name, offset, changes the context)


def _scan_mustache(text: str) -> tuple[list[Placeholder], list[SyntaxProblem]]:
    state = _MustacheState(Locator(text), [], [], [])
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
    for name, offset, _ in state.sections:
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
    in_context = any(context for _, _, context in state.sections)
    if sigil in ("#", "^"):
        # {{#each x}}, {{#with x}}, a Mustache {{#x}}: inside, names may be the item's fields
        state.sections.append((words[0][0], words[0][1], len(words) == 1 or words[0][0] in _CONTEXT_HELPERS))
    names = words if len(words) == 1 else _helper_arguments(words[1:])
    for word, offset in names:
        root = _mustache_root(word)
        if root and (not in_context or word.startswith("../")):
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
    word = word.rstrip(")")  # the last argument of a (sub-expression)
    if not word or word in _LITERALS or word[0] in "@\"'|(" or word[0].isdigit() or word.startswith("this."):
        return None
    return word.split(".")[0] or None


# --- dispatch -----------------------------------------------------------------------------

# syntax -> (markers, scanner): text without any marker has no placeholders and is not parsed.
SCANNERS: dict[str, tuple[tuple[str, ...], Scanner]] = {
    "jinja2": (("{{", "{%"), scan_jinja),
    "chat_template": (("{{", "{%"), scan_jinja),
    "mustache": (("{{",), _scan_mustache),
    "dollar": (("$",), _scan_dollar),
    "format": (("{",), _scan_format),
    "semantic_kernel": (("{{",), scan_semantic_kernel),
}
SYNTAXES: tuple[str, ...] = tuple(SCANNERS)


def chat_template_undeclared(templates: Sequence[tuple[str | None, str]]) -> list[str]:
    """The names the ``(name, source)`` chat templates need that no runtime supplies, sorted.

    Judged as the ``prompts`` provider judges a ``chat_template`` file: defaults anywhere in
    the template, optional switches and runtime names are not undeclared. A template that does
    not parse has none (its syntax error is reported on its own)."""
    names: set[str] = set()
    for _, source in templates:
        placeholders, problems = scan(source, "chat_template")
        if problems:
            continue
        defaulted = {p.name for p in placeholders if p.default}
        names |= {p.name for p in placeholders if not (p.default or p.optional) and p.name not in defaulted}
    return sorted(names - CHAT_RUNTIME_NAMES)
