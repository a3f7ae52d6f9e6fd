"""Finds providers through the ``wfgy_rules.providers`` entry-point group.

Looking up names is cheap (the ``entry_points.txt`` files only); a provider's module is
imported only when its facts are needed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from wfgy_rules.errors import WfgyError
from wfgy_rules.providers.base import ENTRY_POINT_GROUP, RESERVED_NAMES
from wfgy_rules.providers.entrypoints import EntryPoint, entry_points


@lru_cache(maxsize=1)
def available() -> dict[str, EntryPoint]:
    """Provider name → entry point, for every installed provider."""
    found: dict[str, EntryPoint] = {}
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: (p.name, p.value)):
        if point.name in RESERVED_NAMES:
            raise WfgyError(f"provider name {point.name!r} ({point.value}) is reserved for expressions")
        found.setdefault(point.name, point)
    return found


def names() -> frozenset[str]:
    return frozenset(available())


@lru_cache(maxsize=None)
def load(name: str) -> Any:
    """An instance of the provider ``name``."""
    try:
        point = available()[name]
    except KeyError:
        raise WfgyError(f"unknown provider {name!r}") from None
    return point.load()()
