"""Streaming a fleet's report: each bundle's lines written as soon as it is judged, the
closing line last (``--format jsonl``; `wfgy_rules.reporters.jsonl`).

Used when every format asked for streams (``--format jsonl``, ``--report jsonl=F`` beside
it); otherwise the run is held in memory and rendered once (`wfgy_rules.reporters.emit`).
A file is written atomically: an interrupted run leaves no half report.

With ``--jobs N`` the bundles are judged in worker processes and written here. A fleet's
report is large (about 20 KB a bundle with the built-in packs) and mostly repeats itself:
most bundles share most verdicts (`wfgy_rules.run.verdicts`). So a worker sends the text of
each verdict once, then only its number (`_Sender`), and this process puts the lines
together (`_Receiver`): what crosses between processes is a few hundred bytes a bundle,
not the report. The report is the same, byte for byte, serially or in a pool
(``tests/reporters/test_stream.py``).
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import sys
from collections import OrderedDict
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from wfgy_rules.documents.atomic_write import open_atomic
from wfgy_rules.gc_pause import paused
from wfgy_rules.model import Bundle
from wfgy_rules.reporters import FORMATS, jsonl
from wfgy_rules.run.fleet import Plan, Tally, judged


def streams(fmt: str) -> bool:
    """Whether format ``fmt`` is written as bundles are judged."""
    return bool(getattr(importlib.import_module(FORMATS[fmt]), "STREAMS", False))


def stream_fleet(plan: Plan, files: list[str], read: Callable[[str], Bundle], jobs: int, force: bool,
                 closing: jsonl.Closing, outputs: list[Path | None], stream: TextIO | None = None) -> tuple[bool, bool]:
    """Judge ``files`` and write the ``jsonl`` report to each of ``outputs`` (None: ``stream``,
    stdout by default); (failed, forced)."""
    tally = Tally(fleet=True)
    sender, receiver = _Sender(), _Receiver()
    with ExitStack() as stack:
        handles = [stack.enter_context(open_atomic(path)) if path else (stream or sys.stdout) for path in outputs]
        writers = [_byte_writer(handle) for handle in handles]

        def write(data: bytes) -> None:
            for writer in writers:
                writer(data)

        write(jsonl.encoded(jsonl.warning_lines(plan.warnings)))
        tally.add_results(plan.warnings)
        with paused(), contextlib.closing(judged(plan, files, read, jobs, sender.message if jobs > 1 else _rendered)) as bundles:
            for target, digest, counts, blocking, lines in bundles:
                tally.add_bundle(target, digest)
                for status, count in counts:
                    tally.counts[status] += count
                tally.failed = tally.failed or blocking
                write(lines if type(lines) is bytes else receiver.lines(lines))
        forced = force and tally.failed
        write(jsonl.encoded(jsonl.closing_line(closing, tally.counts, tally.failed, forced, tally.facts_digest, tally.bundles)))
        for handle in handles:
            handle.flush()
    return tally.failed, forced


def _rendered(judged) -> tuple:
    """A bundle judged in this process: what the tally needs, and its lines."""
    if not any(verdict.results for verdict in judged.verdicts):
        lines = jsonl.no_result_line(judged.target, judged.digest)
    else:
        lines = jsonl.fleet_lines(jsonl.fleet_tail(judged.target, judged.digest), [jsonl.heads(verdict) for verdict in judged.verdicts])
    return judged.target, judged.digest, tuple(judged.counts().items()), judged.blocking, lines


KEEP_VERDICTS = 8192  # verdicts whose text the writing process keeps for each worker
KEEP_TEXT = 16 << 20  # and at most this many bytes of it


class _Sender:
    """Where bundles are judged: each bundle as a message naming its verdicts by number,
    with the text of those the receiver does not hold yet, and the numbers it may forget."""

    def __init__(self) -> None:
        self._numbers = itertools.count()
        self._held: OrderedDict[int, int] = OrderedDict()  # number → bytes, oldest first
        self._text = 0

    def message(self, judged) -> tuple:
        if not any(verdict.results for verdict in judged.verdicts):
            return _rendered(judged)  # its one line is shorter than a message
        refs, new, gone = [], [], []
        for verdict in judged.verdicts:
            number = verdict.rendered.get("number")
            if number is None:
                number = verdict.rendered["number"] = next(self._numbers)
            if number not in self._held:
                text = jsonl.heads(verdict)
                new.append((number, text))
                self._held[number] = size = sum(map(len, text))
                self._text += size
            refs.append(number)
        while len(self._held) > KEEP_VERDICTS or self._text > KEEP_TEXT:
            oldest, size = self._held.popitem(last=False)
            self._text -= size
            gone.append(oldest)
        return (judged.target, judged.digest, tuple(judged.counts().items()), judged.blocking,
                (os.getpid(), jsonl.fleet_tail(judged.target, judged.digest), tuple(refs), tuple(new), tuple(gone)))


class _Receiver:
    """Where the report is written: a bundle's lines from a `_Sender` message."""

    def __init__(self) -> None:
        self._heads: dict[int, dict[int, tuple[bytes, ...]]] = {}  # sender → verdict number → its text

    def lines(self, relayed: tuple) -> bytes:
        sender, tail, refs, new, gone = relayed
        heads = self._heads.get(sender)
        if heads is None:
            heads = self._heads[sender] = {}
        heads.update(new)
        lines = jsonl.fleet_lines(tail, [heads[number] for number in refs])
        for number in gone:
            del heads[number]
        return lines


def _byte_writer(handle: TextIO) -> Callable[[bytes], object]:
    """A writer of UTF-8 report bytes to ``handle``: straight to its binary layer when it
    writes UTF-8, else decoded and escaped as the json format does (`emit.encodable`)."""
    encoding = (getattr(handle, "encoding", None) or "utf-8").lower().replace("_", "-")
    buffer = getattr(handle, "buffer", None)
    if buffer is not None and encoding in ("utf-8", "utf8"):
        handle.flush()  # what was written as text goes first
        return buffer.write
    from wfgy_rules.reporters.emit import encodable

    return lambda data: handle.write(encodable(data.decode("utf-8"), "jsonl", encoding))
