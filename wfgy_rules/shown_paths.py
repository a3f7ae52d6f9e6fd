"""How a file's path is shown to the user, in every message, location and report.

Relative to the working directory when the file is under it, as a POSIX path without
``./``; otherwise absolute. Reports then point at the same file however the run was
started (``--config deploy/wfgy.yaml`` → ``deploy/prompts/a.txt``).
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path


def shown_path(path: str | os.PathLike[str]) -> str:
    """``path`` as the user sees it (see the module docstring); symlinks are not followed
    for a relative path, so ``a/../b`` shows as ``b`` and ``../x`` stays ``../x``."""
    given = Path(path)
    if not given.is_absolute():
        return posixpath.normpath(given.as_posix())
    try:
        return given.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return given.as_posix()
