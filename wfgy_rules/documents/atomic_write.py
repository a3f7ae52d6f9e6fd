"""Writing report and bundle files: atomically, so a crash or Ctrl-C never leaves half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from wfgy_rules.errors import Problem, UsageError


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place.

    A reader sees the old file or the new one, never half of one. The file keeps the old
    file's permissions, or gets the usual ones for a new file (0666 less the umask).
    """
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write", [Problem(str(path), f"cannot write: {exc.strerror or exc}")]) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException as exc:
        Path(temp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UsageError(f"{path}: cannot write", [Problem(str(path), f"cannot write: {exc.strerror or exc}")]) from None
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
