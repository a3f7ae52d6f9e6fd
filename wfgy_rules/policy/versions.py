"""Lenient version parsing and fail-closed comparison.

Accepted spellings: ``12.1``, ``535.104.05``, ``2.3.1+cu121``, ``v1.2``, ``12.6.20241114``
(PEP 440 via `packaging`, after stripping a leading ``v``). A value that is not a version is
an `EvaluationError` (an ``error`` result), never a silent ``0.0.0``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from wfgy_rules.errors import EvaluationError
from wfgy_rules.jsonvalues import show as _show

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

DRIFT_LEVELS = ("none", "patch", "minor", "major")
# `packaging` is imported on first use: most runs never compare a version (cold start).


@lru_cache(maxsize=4096)
def _parse_text(text: str) -> Version:
    from packaging.version import Version

    cleaned = text.strip()
    if cleaned[:1] in ("v", "V"):
        cleaned = cleaned[1:]
    return Version(cleaned)


def parse(value: object) -> Version:
    """The `Version` of a string (or int/float such as ``12`` or ``12.1``), or an error."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise EvaluationError(f"{_show(value)} is not a version")
    from packaging.version import InvalidVersion

    try:
        return _parse_text(str(value))
    except InvalidVersion:
        raise EvaluationError(f"{_show(value)} is not a version") from None


def compare(a: object, b: object) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to, or newer than ``b``."""
    va, vb = parse(a), parse(b)
    return (va > vb) - (va < vb)


def satisfies(version: object, spec: object) -> bool:
    """Whether ``version`` meets a PEP 440 specifier such as ``">=12.1,<13"``."""
    if not isinstance(spec, str):
        raise EvaluationError(f"{_show(spec)} is not a version specifier")
    from packaging.specifiers import InvalidSpecifier

    try:
        specifier = _specifier(spec)
    except InvalidSpecifier:
        raise EvaluationError(f"{_show(spec)} is not a version specifier") from None
    return specifier.contains(parse(version), prereleases=True)


@lru_cache(maxsize=1024)
def _specifier(spec: str) -> SpecifierSet:
    from packaging.specifiers import SpecifierSet

    return SpecifierSet(spec)


def drift(a: object, b: object) -> str:
    """How far apart two versions are: ``none``, ``patch``, ``minor`` or ``major``.

    Local labels (``+cu121``) and anything after the third release part are not drift.
    """
    ra, rb = _release3(parse(a)), _release3(parse(b))
    for level, x, y in zip(("major", "minor", "patch"), ra, rb):
        if x != y:
            return level
    return "none"


def _release3(version: Version) -> tuple[int, int, int]:
    parts = (*version.release, 0, 0)
    return parts[0], parts[1], parts[2]


def tolerated(level: str, ignore_levels: object) -> bool:
    """Whether a drift ``level`` is within ``ignore_versions`` (``minor`` implies ``patch``)."""
    if not isinstance(ignore_levels, list):
        raise EvaluationError(f"ignore_versions must be a list, got {_show(ignore_levels)}")
    allowed = 0
    for entry in ignore_levels:
        if entry not in DRIFT_LEVELS[1:]:
            raise EvaluationError(f"ignore_versions entry {_show(entry)} is not patch, minor or major")
        allowed = max(allowed, DRIFT_LEVELS.index(entry))
    return DRIFT_LEVELS.index(level) <= allowed

