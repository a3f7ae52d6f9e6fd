"""Emitting a report: the main one to a stream (stdout, or stderr for ``preflight``) or
``--output``, every ``--report FORMAT=FILE`` beside it, each file written atomically.

A reporter module may define ``after_emit(report)``, called once per run when its format
was asked for (the GitHub reporter appends the job summary there).

**Colour** (the text format only, and only on the stream, never in a file): ``--color
always|never`` decides; with ``auto`` (the default) a non-empty ``NO_COLOR`` turns it off
(no-color.org), else a non-empty ``FORCE_COLOR`` turns it on even without a terminal, else
it is on for a terminal whose ``TERM`` is not ``dumb``.

**Encoding**: a stream that cannot carry the report's characters (``PYTHONIOENCODING=ascii``,
a cp1252 console, some CI runners) gets it with ASCII symbols instead of an error: a format
module's ``ASCII`` table (``str.maketrans``) replaces its own symbols (``✔`` → ``+``), and what
is still unencodable is escaped the format's way, ``UNENCODABLE``: a codec error handler
(``\\u2194`` in JSON strings, ``&#8596;`` in XML, ``\\u2194`` in text). Files are always UTF-8.
"""

from __future__ import annotations

import codecs
import importlib
import os
import sys
from collections.abc import Mapping
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


COLOR_CHOICES = ("auto", "always", "never")
JSON_ESCAPE = "wfgy-json-escape"  # codec error handler: \\uXXXX escapes (surrogate pairs beyond the BMP)


def check_color(choice: str) -> None:
    if choice not in COLOR_CHOICES:
        raise UsageError(f"--color {choice!r} is not one of: {', '.join(COLOR_CHOICES)}")


def emit(report: Report, fmt: str, output: str | None, extra: list[tuple[str, Path]], stream: TextIO | None = None,
         color: str = "auto") -> None:
    """Write the main report (``stream``, stdout by default, or ``--output``) and every ``--report`` file."""
    for extra_fmt, path in extra:
        write_atomic(path, render(report, extra_fmt))
    if output:
        write_atomic(Path(output), render(report, fmt))
    else:
        stream = stream or sys.stdout
        text = render(report, fmt, color=use_color(stream, color))
        stream.write(encodable(text, fmt, getattr(stream, "encoding", None)))
        stream.flush()
    for used in dict.fromkeys((fmt, *(f for f, _ in extra))):  # side outputs, after the reports
        hook = getattr(importlib.import_module(FORMATS[used]), "after_emit", None)
        if hook is not None:
            hook(report)


def use_color(stream, choice: str = "auto", environ: Mapping[str, str] = os.environ) -> bool:
    """Whether to colour what goes to ``stream`` (see the module docstring)."""
    if choice != "auto":
        return choice == "always"
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and environ.get("TERM") != "dumb"


def encodable(text: str, fmt: str, encoding: str | None) -> str:
    """``text`` as-is when ``encoding`` can carry it, else with the format's ASCII symbols and
    its escapes for the rest (see the module docstring)."""
    encoding = encoding or "utf-8"
    try:
        text.encode(encoding, "surrogatepass")  # a name that is not valid Unicode: the stream escapes it (cli.main)
        return text
    except UnicodeEncodeError:
        pass
    except LookupError:  # an encoding Python does not know: ASCII is safe
        encoding = "ascii"
    module = importlib.import_module(FORMATS[fmt])
    text = text.translate(getattr(module, "ASCII", {}))
    return text.encode(encoding, getattr(module, "UNENCODABLE", "backslashreplace")).decode(encoding)


def _json_escape(error: UnicodeEncodeError) -> tuple[str, int]:
    escaped = []
    for char in error.object[error.start:error.end]:
        code = ord(char)
        if code > 0xFFFF:  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
            code -= 0x10000
            escaped.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            escaped.append(f"\\u{code:04x}")
    return "".join(escaped), error.end


codecs.register_error(JSON_ESCAPE, _json_escape)
