"""Emitting a report: the main one to a stream (stdout, or stderr for ``preflight``) or
``--output``, every ``--report FORMAT=FILE`` beside it, each file written atomically.

A reporter module may define ``after_emit(report)``, called once per run when its format
was asked for (the GitHub reporter appends the job summary there).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import TextIO

from wfgy_rules.documents.atomic_write import write_atomic
from wfgy_rules.errors import UsageError
from wfgy_rules.reporters import FORMATS, Report, render


def parse_reports(specs: list[str]) -> list[tuple[str, Path]]:
    """``--report sarif=out.sarif`` → (format, path); exit 2 on a malformed or unknown format."""
    parsed = []
    for spec in specs:
        fmt, sep, path = spec.partition("=")
        if not sep or not path:
            raise UsageError(f"--report {spec!r}: expected FORMAT=FILE, e.g. json=report.json")
        check_format(fmt, "--report")
        parsed.append((fmt, Path(path)))
    return parsed


def check_format(fmt: str, option: str = "--format") -> None:
    if fmt not in FORMATS:
        raise UsageError(f"{option} {fmt!r} is not one of: {', '.join(FORMATS)}")


def emit(report: Report, fmt: str, output: str | None, extra: list[tuple[str, Path]], stream: TextIO | None = None) -> None:
    """Write the main report (``stream``, stdout by default, or ``--output``) and every ``--report`` file."""
    for extra_fmt, path in extra:
        write_atomic(path, render(report, extra_fmt))
    for used in dict.fromkeys((fmt, *(f for f, _ in extra))):
        hook = getattr(importlib.import_module(FORMATS[used]), "after_emit", None)
        if hook is not None:
            hook(report)
    if output:
        write_atomic(Path(output), render(report, fmt))
    else:
        stream = stream or sys.stdout
        stream.write(render(report, fmt, color=use_color(stream)))
        stream.flush()


def use_color(stream) -> bool:
    """Colour only on a terminal, and never with ``NO_COLOR`` set."""
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()
