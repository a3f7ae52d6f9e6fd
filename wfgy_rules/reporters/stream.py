"""Streaming a fleet's report: each bundle's lines written as soon as it is judged, the
closing line last (``--format jsonl``; `wfgy_rules.reporters.jsonl`).

Used when every format asked for streams (``--format jsonl``, ``--report jsonl=F`` beside
it); otherwise the run is held in memory and rendered once (`wfgy_rules.reporters.emit`).
A file is written atomically: an interrupted run leaves no half report.
"""

from __future__ import annotations

import importlib
import sys
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


def stream_fleet(plan: Plan, files: list[Path], read: Callable[[Path], Bundle], jobs: int, force: bool,
                 closing: jsonl.Closing, outputs: list[Path | None], stream: TextIO | None = None) -> tuple[bool, bool]:
    """Judge ``files`` and write the ``jsonl`` report to each of ``outputs`` (None: ``stream``,
    stdout by default); (failed, forced)."""
    tally = Tally(fleet=True)
    with ExitStack() as stack:
        handles = [stack.enter_context(open_atomic(path)) if path else (stream or sys.stdout) for path in outputs]
        writers = [handle.write if path else _encoding_writer(handle) for handle, path in zip(handles, outputs)]

        def write(text: str) -> None:
            for writer in writers:
                writer(text)

        write(jsonl.warning_lines(plan.warnings))
        tally.add_results(plan.warnings)
        with paused():
            for target, digest, text, counts, blocking in judged(plan, files, read, jobs, _rendered):
                tally.add_bundle(target, digest)
                for status, count in counts:
                    tally.counts[status] += count
                tally.failed = tally.failed or blocking
                write(text)
        forced = force and tally.failed
        write(jsonl.closing_line(closing, tally.counts, tally.failed, forced, tally.facts_digest, tally.bundles))
        for handle in handles:
            handle.flush()
    return tally.failed, forced


def _rendered(judged_bundle) -> tuple:
    """What a worker sends back for one bundle: its lines and what the tally needs."""
    counts: dict[str, int] = {}
    for result in judged_bundle.results:
        counts[result.status.value] = counts.get(result.status.value, 0) + 1
    blocking = any(r.blocking for r in judged_bundle.results)
    return judged_bundle.target, judged_bundle.digest, jsonl.bundle_lines(judged_bundle), tuple(counts.items()), blocking


def _encoding_writer(handle: TextIO) -> Callable[[str], object]:
    """``handle.write``, escaping what its encoding cannot carry as the json format does (`emit.encodable`)."""
    encoding = (getattr(handle, "encoding", None) or "utf-8").lower().replace("_", "-")
    if encoding in ("utf-8", "utf8"):
        return handle.write
    from wfgy_rules.reporters.emit import encodable

    return lambda text: handle.write(encodable(text, "jsonl", encoding))
