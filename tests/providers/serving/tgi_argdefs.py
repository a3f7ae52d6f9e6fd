"""Every option ``text-generation-launcher`` accepts, read from its clap ``struct Args``.

TGI's launcher (launcher/src/main.rs) derives its parser with clap: each field of
``struct Args`` with ``#[clap(long ...)]`` is ``--field-name`` (``long = "x"`` renames it),
``short`` adds ``-f`` (the field's first letter unless ``short = 'x'``), and ``env`` reads
``FIELD_NAME`` (or ``env = "X"``) when the flag is absent. A plain ``bool`` field is a switch;
every other type (``Option<bool>`` included) takes one word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.providers.serving.argdefs import FlagDef

MAIN_RS = "launcher/src/main.rs"
_FIELD = re.compile(r"^\s*(?:pub\s+)?([a-z_][a-z0-9_]*)\s*:\s*([^,]+),\s*$")
_ATTR = re.compile(r"^\s*#\[(?:clap|arg)\((.*)\)\]\s*$")


@dataclass(frozen=True)
class TgiArg:
    flag: FlagDef
    env: str | None


def tgi_args(text: str) -> list[TgiArg]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^struct Args\s*\{", line))
    args: list[TgiArg] = []
    attrs: list[str] = []
    for number, line in enumerate(lines[start + 1:], start + 2):
        if line.startswith("}"):
            break
        attr = _ATTR.match(line)
        if attr:
            attrs.append(attr.group(1))
            continue
        field = _FIELD.match(line)
        if field:
            args.extend(_arg(field.group(1), field.group(2).strip(), ",".join(attrs), number))
            attrs = []
    return args


def _arg(name: str, rust_type: str, attrs: str, line: int) -> list[TgiArg]:
    parts = [p.strip() for p in _split(attrs)]
    names = []
    env = None
    for part in parts:
        key, _, value = part.partition("=")
        key, value = key.strip(), value.strip().strip("\"'")
        if key == "long":
            names.insert(0, "--" + (value or name.replace("_", "-")))
        elif key == "short":
            names.append("-" + (value or name[0]))
        elif key == "env":
            env = value or name.upper()
    if not names:
        return []
    takes = "none" if rust_type == "bool" else "value"
    return [TgiArg(FlagDef(tuple(names), takes, MAIN_RS, line), env)]


def _split(attrs: str) -> list[str]:
    """Split ``default_value = "a,b", long, env`` on the commas outside quotes."""
    parts, current, quoted = [], "", False
    for char in attrs:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p for p in parts + [current] if p.strip()]
