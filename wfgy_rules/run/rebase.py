"""Locations as the user sees them: results carry paths relative to the config's directory;
reports show them from the working directory (`wfgy_rules.shown_paths`). Run from a
subdirectory of the project (its config found above), they read ``../prompts/a.txt``."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from wfgy_rules.model import Result
from wfgy_rules.shown_paths import shown_path


def rebase(results: list[Result], base_dir: Path) -> list[Result]:
    """Locations are relative to the config's directory; reports show them as the user sees
    them from the working directory (`wfgy_rules.shown_paths`). Run from a subdirectory of
    the project (its config found above), they read ``../prompts/a.txt``."""
    base = _resolved(base_dir)
    cwd = _resolved(Path.cwd())
    if base == cwd:
        return results
    above = base in cwd.parents
    return [_rebased(r, base, cwd, above) if r.location and not Path(r.location.path).is_absolute() else r for r in results]


@lru_cache(maxsize=64)
def _resolved(path: Path) -> Path:
    """``path.resolve()``, once a run: a fleet rebases the locations of every bundle."""
    return path.resolve()


def _rebased(result: Result, base: Path, cwd: Path, above: bool) -> Result:
    path = base / result.location.path
    shown = shown_path(path)
    if above and Path(shown).is_absolute():
        shown = os.path.relpath(path, cwd).replace(os.sep, "/")
    return replace(result, location=replace(result.location, path=shown))
