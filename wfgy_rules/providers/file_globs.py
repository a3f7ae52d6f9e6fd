"""Finding files by glob, for providers that read many files (``prompts``, ``kubernetes``).

Patterns are POSIX globs relative to ``wfgy.yaml``'s directory: ``**`` is any depth, ``*``,
``?`` and ``[…]`` stay within one name. ``*`` and ``**`` do not match names that start with
a dot (hidden directories are not entered unless a pattern names one); a pattern without
wildcards names one file, or every file under a directory. Only regular files (and symlinks
to them) are returned; symlinked directories are followed once each (by device and inode),
so a symlink loop ends the walk there. Shown paths are POSIX and relative to the base
directory (absolute when outside it): a plain prefix cut, cheap for large trees.
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.configured_paths import not_there

_WILDCARD = re.compile(r"[*?\[]")


def matched_files(patterns: Iterable[str], ctx: ProviderContext, problem: Callable[[str, str], None],
                  setting: str | None = None) -> list[tuple[str, str]]:
    """(shown path, path) of every file matched by any pattern, sorted by shown path.

    ``problem(shown, reason)`` is called for each directory that cannot be listed (the walk
    goes on without it) and, when ``setting`` names where the patterns were configured, for
    each pattern that matches no file (a typo, an unmounted volume: an input the user named
    must not pass for an empty one), with the pattern as ``shown``:
    ``prompts path promts/**/* matches no file (relative to wfgy.yaml)``, or ``… does not
    exist`` for a path without wildcards.
    """
    base = base_prefix(ctx)
    found: dict[str, str] = {}
    for pattern in patterns:
        matched = False
        for path in _expand(pattern, ctx, base, problem):
            found[shown_under(path, base)] = path
            matched = True
        if not matched and setting is not None:
            problem(pattern, _unmatched(setting, pattern, ctx))
    return sorted(found.items())


def _unmatched(setting: str, pattern: str, ctx: ProviderContext) -> str:
    if _WILDCARD.search(pattern) or ctx.resolve(pattern).exists():
        return not_there(setting, pattern, "matches no file")
    return not_there(setting, pattern)


def _expand(pattern: str, ctx: ProviderContext, base: str, unlistable: Callable[[str, str], None]) -> Iterator[str]:
    """The files one glob matches: walk its wildcard-free leading directory, match the rest."""
    parts = pattern.split("/")
    fixed = next((i for i, part in enumerate(parts) if _WILDCARD.search(part)), len(parts))
    root = ctx.resolve("/".join(parts[:fixed]) or ".")
    rest = [part for part in parts[fixed:] if part]
    if not rest:
        if root.is_file():
            yield str(root)
            return
        rest = ["**"]
    hidden = any(part.startswith(".") for part in rest)
    if rest in (["**"], ["**", "*"]):  # every file the walk finds (it skips hidden names itself)
        yield from _walk(root, hidden, base, unlistable)
        return
    regex = glob_regex("/".join(rest))
    prefix = len(os.path.join(root, ""))
    for path in _walk(root, hidden, base, unlistable):
        if regex.fullmatch(path[prefix:].replace(os.sep, "/")):
            yield path


def _walk(root: Path, hidden: bool, base: str, unlistable: Callable[[str, str], None]) -> Iterator[str]:
    """Regular files under ``root``; each directory (by device and inode) is entered once,
    subdirectories in name order (so which of two paths to one directory is walked does
    not depend on the file system's listing order; files are sorted by the caller)."""
    stack, seen = [str(root)], set()
    while stack:
        directory = stack.pop()
        files: list[str] = []
        below: list[os.DirEntry[str]] = []
        try:
            identity = (st := os.stat(directory)).st_dev, st.st_ino
            if identity in seen:
                continue
            seen.add(identity)
            with os.scandir(directory) as scanner:
                for entry in scanner:
                    if hidden or not entry.name.startswith("."):
                        try:
                            if entry.is_dir():
                                below.append(entry)
                            elif entry.is_file():
                                files.append(entry.path)
                        except OSError:  # a dangling link, a link loop: neither
                            pass
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            unlistable(shown_under(directory, base), f"cannot list directory: {exc.strerror or exc}")
            continue
        stack.extend(entry.path for entry in sorted(below, key=_NAME))
        yield from files


_NAME = operator.attrgetter("name")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over POSIX paths: ``**`` spans directories, ``*``/``?``/``[…]`` do not."""
    parts = pattern.split("/")
    regex = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            regex += r"(?:(?!\.)[^/]+/)*" + (r"(?!\.)[^/]+" if last else "")
        else:
            regex += _segment_regex(part) + ("" if last else "/")
    return re.compile(regex)


def _segment_regex(part: str) -> str:
    regex = "" if part.startswith(".") else r"(?!\.)"
    for token in re.findall(r"\*|\?|\[!?\]?[^\]]*\]|[^*?\[]+|\[", part):
        if token == "*":
            regex += "[^/]*"
        elif token == "?":
            regex += "[^/]"
        elif token.startswith("[") and len(token) > 1:
            regex += "[" + ("^" + token[2:-1] if token[1] == "!" else token[1:-1]).replace("\\", "\\\\") + "]"
        else:
            regex += re.escape(token)
    return regex


def base_prefix(ctx: ProviderContext) -> str:
    """The prefix that shown paths drop: ``base_dir`` (resolved) with a trailing separator."""
    return os.path.join(ctx.base_dir.resolve(), "")


def shown_under(path: str | Path, base: str) -> str:
    """``path`` relative to ``base`` as a POSIX path; absolute when it is outside ``base``."""
    path = str(path)
    shown = path[len(base):] if path.startswith(base) else path
    return shown if os.sep == "/" else shown.replace(os.sep, "/")
