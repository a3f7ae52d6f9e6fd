"""The skeleton trick: a long Jinja text reduced to the lines that hold tags, positions kept.

Jinja's lexer walks data text character by character, so a long prompt costs as much as a
long template. `skeleton` empties every line that holds no part of a tag (text of 4096
characters or more); line numbers, and columns on the lines kept, stay the same, so the
walker's results are those of the full text. A tag's string literals may hold delimiters and
span lines; they are followed.
"""

from __future__ import annotations

import re

_TAG_OPEN = re.compile(r"\{[{%#]")
_TAG_CLOSE = {"{{": "}}", "{%": "%}", "{#": "#}"}
_SKELETON_MIN_CHARS = 4096


def skeleton(text: str) -> str:
    """``text`` with every line that holds no part of a tag emptied.

    Jinja's lexer walks data text character by character; a 10 KB prompt with one
    ``{{ name }}`` costs as much as a 10 KB template. Emptying lines that are pure data keeps
    every line number, and every column on the lines that are kept, so positions and syntax
    errors come out the same while the parser sees only the tags. A line is kept when it
    holds a ``{`` or continues a tag opened on an earlier line."""
    if len(text) < _SKELETON_MIN_CHARS:
        return text
    lines = text.split("\n")
    pending: tuple[str, str | None] | None = None
    for index, line in enumerate(lines):
        if pending is None and "{" not in line:
            lines[index] = ""
        else:
            pending = _still_open(line, pending)
    return "\n".join(lines)


_IN_TAG = {closer: re.compile("['\"]|" + re.escape(closer)) for closer in ("}}", "%}")}
_STRING_END = {quote: re.compile(rf"(?:[^{quote}\\]|\\.)*{quote}") for quote in "'\""}


def _still_open(line: str, pending: tuple[str, str | None] | None) -> tuple[str, str | None] | None:
    """What a tag opened on or before ``line`` still waits for: (closing delimiter, open quote).

    String literals inside a tag may hold delimiters and span lines (``{{- '{{"name": …}}, '
    -}}``), so quotes are followed; comments hold no strings."""
    position = 0
    while True:
        if pending is None:
            match = _TAG_OPEN.search(line, position)
            if match is None:
                return None
            pending, position = (_TAG_CLOSE[match.group()], None), match.end()
        closer, quote = pending
        if quote is not None:
            end = _STRING_END[quote].match(line, position)
            if end is None:
                return pending
            pending, position = (closer, None), end.end()
        elif closer == "#}":
            end_at = line.find(closer, position)
            if end_at < 0:
                return pending
            pending, position = None, end_at + 2
        else:
            match = _IN_TAG[closer].search(line, position)
            if match is None:
                return pending
            pending = (closer, match.group()) if match.group() in "'\"" else None
            position = match.end()
