"""The ``.env`` / ``.env.example`` file format, read without keeping any value.

One ``NAME=``, ``NAME=example`` or bare ``NAME`` per line (an optional ``export`` prefix is
accepted); blank lines and ``#`` comment lines are ignored; a quoted value may span lines
(a PEM key). A trailing comment that starts with the words ``secret`` and/or ``optional``
marks the entry; every other entry is required and not secret. Read by the ``env``
provider (``declared: .env.example``) and the ``secrets`` provider (``dotenv`` sources).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from wfgy_rules.documents.bounded_read import InputRefused, read_bounded
from wfgy_rules.documents.yamlio import max_file_bytes
from wfgy_rules.errors import ProviderError

_ENTRY = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(?:=(.*))?$")
_MARKERS = re.compile(r"^#\s*((?:secret|optional)(?:[\s,]+(?:secret|optional))*)\b", re.I)


@dataclass(frozen=True)
class EnvFileEntry:
    """One entry of an env file. The value itself is deliberately not kept."""

    name: str
    has_value: bool  # something other than whitespace after unquoting
    required: bool
    secret: bool
    line: int


def parse_env_file(path: Path) -> list[EnvFileEntry]:
    """Parse a ``.env`` / ``.env.example`` file into entries, without keeping any value.

    Raises `ProviderError` naming the file (and line) when it cannot be read or a line is
    not an entry; the line's text is never quoted.
    """
    try:
        text = read_bounded(path, max_file_bytes()).decode("utf-8")
    except InputRefused as exc:
        raise ProviderError(f"{path}: {exc}") from None
    except FileNotFoundError:
        raise ProviderError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProviderError(f"{path}: cannot read: {_reason(exc)}") from None
    return list(_entries(path, text.splitlines()))


def _entries(path: Path, lines: Sequence[str]) -> Iterator[EnvFileEntry]:
    index = 0
    while index < len(lines):
        number, stripped = index + 1, lines[index].strip()
        index += 1
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENTRY.match(stripped)
        if match is None:
            raise ProviderError(f"{path}:{number}: expected NAME=value")
        rest = match.group(2) or ""
        quote = rest.lstrip()[:1]
        if quote in ("'", '"') and quote not in rest.lstrip()[1:]:
            # A multi-line quoted value (a PEM key, say): it ends on the line with the quote.
            has_value, index = _multiline(path, number, lines, index, rest.lstrip()[1:], quote)
            yield _entry(match.group(1), has_value, "", number)
            continue
        value, comment = _split_comment(rest)
        yield _entry(match.group(1), _unquote(value).strip() != "", comment, number)


def _multiline(
    path: Path, number: int, lines: Sequence[str], index: int, first: str, quote: str
) -> tuple[bool, int]:
    """Whether a quoted value spanning lines holds anything, and the index after it."""
    has_value = bool(first.strip())
    while index < len(lines):
        line = lines[index]
        index += 1
        if quote in line:
            return has_value or bool(line[: line.index(quote)].strip()), index
        has_value = has_value or bool(line.strip())
    raise ProviderError(f"{path}:{number}: unterminated quoted value")


def _entry(name: str, has_value: bool, comment: str, number: int) -> EnvFileEntry:
    markers = _MARKERS.match(comment)
    words = set(re.split(r"[\s,]+", markers.group(1).lower())) if markers else set()
    return EnvFileEntry(name, has_value, "optional" not in words, "secret" in words, number)


def _split_comment(rest: str) -> tuple[str, str]:
    """``value  # comment`` -> (value, "# comment"), respecting a quoted value."""
    body = rest.lstrip()
    if body[:1] in ("'", '"'):
        end = body.find(body[0], 1)
        value, tail = body[: end + 1], body[end + 1 :]
        return value, tail.strip() if tail.strip().startswith("#") else ""
    match = re.search(r"(?:^|\s)#", body)
    if match is None:
        return body, ""
    return body[: match.start()], body[match.start() :].strip()


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in ("'", '"'):
        return value[1:-1]
    return value


def _reason(exc: BaseException) -> str:
    return (getattr(exc, "strerror", None) or type(exc).__name__).lower()
