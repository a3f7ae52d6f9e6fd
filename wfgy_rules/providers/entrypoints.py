"""A lean reader of installed entry points for one group.

``importlib.metadata`` costs ~35 ms to import (it pulls in ``email``, ``zipfile``, ``csv``),
a large part of a cold ``wfgy-rules eval``. Finding providers only needs the
``entry_points.txt`` files of the distributions on ``sys.path``, so this module reads those
directly: ``*.dist-info`` and ``*.egg-info`` directories, first one of a distribution wins
(the same precedence as ``importlib.metadata``).

Speed-up: must agree with ``importlib.metadata.entry_points(group=…)``;
``tests/providers/test_registry.py`` checks that.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EntryPoint:
    name: str
    value: str  # "package.module:attribute"
    group: str

    def load(self) -> Any:
        module, _, attribute = self.value.partition(":")
        target: Any = importlib.import_module(module.strip())
        for part in filter(None, attribute.strip().split(".")):
            target = getattr(target, part)
        return target


def entry_points(group: str) -> list[EntryPoint]:
    """Every entry point of ``group`` declared by a distribution on ``sys.path``."""
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for directory in sys.path:
        try:
            names = sorted(os.listdir(directory or "."))
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            distribution = _normalise(name.rsplit(".", 1)[0].split("-", 1)[0])
            if distribution in seen:
                continue
            seen.add(distribution)
            found.extend(_read(os.path.join(directory or ".", name, "entry_points.txt"), group))
    return found


def _read(path: str, group: str) -> list[EntryPoint]:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    points, section = [], None
    for raw in lines:
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            points.append(EntryPoint(name.strip(), value.strip(), group))
    return points


def _normalise(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")
