"""Reading and scanning prompt files for the ``prompts`` provider (`wfgy_rules.providers.prompts.prompts`).

Each matched file is read (up to ``max_file_bytes``; binary, non-UTF-8 and unreadable files
become ``errors`` entries with the line and column of the first bad byte), sniffed (a file
with no placeholder marker costs one read) and, when it may hold placeholders, analysed by
`wfgy_rules.providers.prompts.templates.prompt_files.analyse`. A file whose syntax error
stops the scan keeps the names it mentions (``mentions``): its placeholders are unknown, and
a declared variable it may use is not reported unused. With several workers the
files are shared, in ranges, by forked processes (`wfgy_rules.workers`) once the scan is big
enough to pay for them (`PARALLEL_MIN_FILES` files or `PARALLEL_MIN_CHARS` bytes); the
results come back in the files' order, whatever the number of workers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.prompts.templates.chat_templates import named_chat_template
from wfgy_rules.providers.prompts.templates.placeholders import may_contain
from wfgy_rules.providers.prompts.templates.prompt_files import FileScan, analyse

# When a process pool pays for itself (it costs ~15 ms to start): past a megabyte or two of
# template text (parsing runs at ~12 MB/s a core), or past a few thousand files (reading one
# costs ~10 µs, mostly system calls, which run on every core as well).
PARALLEL_MIN_CHARS = 2 * 1024 * 1024
PARALLEL_MIN_FILES = 4096

_BY_SUFFIX = {
    ".jinja": "jinja2",
    ".j2": "jinja2",
    ".jinja2": "jinja2",
    ".mustache": "mustache",
    ".hbs": "mustache",
    ".handlebars": "mustache",
}


@dataclass(slots=True)
class ScannedFile:
    """One prompt file as read: its syntax, its text while it still needs scanning, or why it
    could not be read."""

    path: str  # as shown in facts
    syntax: str | None
    text: str | None  # only when it may hold placeholders: the text still to scan
    error: dict[str, Any] | None = None
    declared: frozenset[str] = frozenset()  # by a Semantic Kernel config.json beside it
    mentions: frozenset[str] = frozenset()  # a file that did not parse: every name in its text


class _Unreadable(Exception):
    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def _read_file(path: str, shown: str, syntax: str | None, limit: int) -> ScannedFile:
    try:
        data = _read_bytes(path, limit)
        if syntax is None and b"{" not in data and data.isascii() and not _BY_SUFFIX.get(os.path.splitext(path)[1].lower()):
            return ScannedFile(shown, None, None)  # plain ASCII without a brace: nothing to decode or scan
        text = _decode(data)
    except _Unreadable as exc:
        return ScannedFile(shown, None, None, error_entry(shown, exc.message, exc.line, exc.column))
    syntax = syntax or _detect(path)
    keep = may_contain(text, syntax) if syntax else "{" in text
    declared = _sk_config_inputs(path) if os.path.basename(path).lower() == "skprompt.txt" and keep else frozenset()
    return ScannedFile(shown, syntax, text if keep else None, declared=declared)


def _sk_config_inputs(path: str) -> frozenset[str]:
    """The input variables a Semantic Kernel ``config.json`` beside ``skprompt.txt`` declares."""
    import json

    try:
        with open(os.path.join(os.path.dirname(path), "config.json"), encoding="utf-8-sig") as handle:
            config = json.load(handle)
    except (OSError, ValueError):
        return frozenset()
    if not isinstance(config, dict):
        return frozenset()
    legacy = config.get("input")
    items = [*(config.get("input_variables") or []), *((legacy.get("parameters") or []) if isinstance(legacy, dict) else [])]
    return frozenset(i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str))


_FIRST_READ = 64 * 1024
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # what a placeholder may be named (prompt_vars.yaml allows "-")
_HYPHENATED = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _read_bytes(path: str, limit: int) -> bytes:
    """The file's bytes, as long as it was when opened (bytes appended meanwhile are not read)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            data = os.read(fd, _FIRST_READ)  # most prompt files: whole, without asking their size
            size = len(data) if len(data) < _FIRST_READ else os.fstat(fd).st_size
            if size > limit:
                raise _Unreadable(f"file too large ({size} bytes, max_file_bytes is {limit})")
            if size > len(data):
                data += os.read(fd, size - len(data))
        finally:
            os.close(fd)
    except OSError as exc:
        raise _Unreadable(f"cannot read: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise _Unreadable("binary file (contains NUL bytes)")
    return data


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _Unreadable(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", line, column) from None


def _detect(path: str) -> str | None:
    """The syntax a file's name gives; None: `analyse` reads or sniffs the content."""
    stem, suffix = os.path.splitext(os.path.basename(path))
    syntax = _BY_SUFFIX.get(suffix.lower())
    return "chat_template" if syntax == "jinja2" and named_chat_template(stem) else syntax


def workers_for(setting: int | str, matched: list[tuple[str, str]]) -> int:
    if setting != "auto":
        return int(setting)
    if len(matched) < PARALLEL_MIN_FILES and sum(_size(path) for _, path in matched) < PARALLEL_MIN_CHARS:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def read_and_scan(path: str, shown: str, syntax: str | None, limit: int) -> tuple[ScannedFile, FileScan | None] | None:
    """One file read and, when it may hold placeholders, analysed (its text is not kept);
    None for a file with nothing in it to report (most files: little to send back)."""
    file = _read_file(path, shown, syntax, limit)
    if file.text is None:
        return None if file.error is None and file.syntax is None else (file, None)
    scan = analyse(file.path, file.text, file.syntax)
    mentions = frozenset(_NAME.findall(file.text)) | frozenset(_HYPHENATED.findall(file.text)) if scan.problems else frozenset()
    return ScannedFile(file.path, file.syntax, None, file.error, file.declared, mentions), scan


def scan_all(work: list[tuple[str, str, str | None, int]], workers: int, timeout: float | None = None) -> Iterator[tuple[str, tuple[ScannedFile, FileScan | None] | None]]:
    """(shown path, what `read_and_scan` found: None for nothing) for every (path, shown,
    syntax, limit), in order; with several workers, in ranges per forked process (which
    inherit ``work``: only what the files hold travels back, and this process builds the
    facts of one range while the workers read the next), stopped (`ProviderError`) after
    ``timeout`` seconds (None: no limit)."""
    from wfgy_rules import workers as forked

    if workers <= 1 or len(work) < 2 or not forked.available():
        for item in work:
            yield item[1], read_and_scan(*item)
        return
    workers = min(workers, len(work))
    step = max(1, min(256, len(work) // (workers * 4)))

    def scan(start: int, stop: int) -> list:
        return [read_and_scan(*item) for item in work[start:stop]]

    try:
        with closing(forked.in_order(scan, len(work), step, workers, timeout)) as parts:
            done = 0
            for part in parts:
                for one in part:
                    yield work[done][1], one
                    done += 1
    except TimeoutError:
        raise ProviderError(f"the scan did not finish within the provider's timeout ({len(work)} files)") from None


def error_entry(path: str, message: str, line: int | None = None, column: int | None = None) -> dict[str, Any]:
    return {"path": path, "line": line, "column": column, "message": message}
