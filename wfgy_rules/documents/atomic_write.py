"""Writing output files (reports, bundles, env files, model cards, cache entries) so that
a crash or Ctrl-C never leaves half a file, and a special file is never replaced.

What `write_atomic(path, text)` does depends on what ``path`` is, as shell redirection would:

* a regular file, or nothing yet: a temporary file beside it is renamed into place, so a
  reader sees the old file or the new one, never half of one;
* a symlink: the file it points to is written (atomically, where that is a regular file);
  the link itself stays;
* ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``: appended to that stream;
* a character device (``/dev/null``, a terminal) or a FIFO: written through, in place; its
  type, owner and permissions are left as they were.

`write_new(root, name, text)` is for files that must be new (``wfgy-rules init``): it
creates ``root/name`` and the directories on the way, and never writes through a link. Any
entry already at ``name`` (a dangling symlink included) is refused, and so is a directory on
the way that is a link (``policies -> /elsewhere``); each directory is opened without
following links and the file is linked into place only if the name is still free, so a link
planted while it writes cannot redirect it either.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from wfgy_rules.errors import Problem, UsageError

# Text that is not valid Unicode (a file name or env value holding byte 0xff) is written as
# a backslash escape: readable in text, a valid \\udcff escape inside a JSON string.
UNENCODABLE = "backslashreplace"
_STREAMS = ("/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/self/fd/")


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` (see the module docstring); `UsageError` when it cannot.

    A regular file keeps its permissions, a new one gets ``mode`` (default: 0666 less the
    umask); ``mode`` never changes a device, a FIFO or a stream.
    """
    with open_atomic(path, mode) as handle:
        handle.write(text)


@contextmanager
def open_atomic(path: Path, mode: int | None = None) -> Iterator[TextIO]:
    """`write_atomic` for text written piece by piece (a streamed report): a handle to a
    temporary file renamed into place when the block ends without an exception, and removed
    when it raises (Ctrl-C); streams, devices and FIFOs are written through, as by `write_atomic`."""
    try:
        if str(path).startswith(_STREAMS):
            with open(str(path), "a", encoding="utf-8", errors=UNENCODABLE, newline="") as handle:
                yield handle
            return
        target = Path(os.path.realpath(path))
        info = _stat(target)
        if info is not None and not stat.S_ISREG(info.st_mode):
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(21, "Is a directory")
            with open(str(target), "w", encoding="utf-8", errors=UNENCODABLE, newline="") as handle:
                yield handle
            return
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    keep = stat.S_IMODE(info.st_mode) if info is not None else (mode if mode is not None else 0o666 & ~_umask())
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors=UNENCODABLE, newline="") as handle:
            yield handle
        os.chmod(temp, keep)
        os.replace(temp, target)
    except BaseException as exc:
        Path(temp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc) from None
        raise


def write_new(root: Path, name: str, text: str, mode: int = 0o666) -> None:
    """Create ``root/name`` holding ``text`` (see the module docstring); `UsageError` naming
    ``name`` when something is in the way or it cannot be written. ``mode`` less the umask."""
    *directories, leaf = Path(name).parts
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in directories:
                child = _enter(fd, part)
                os.close(fd)
                fd = child
            _create(fd, leaf, text.encode("utf-8", UNENCODABLE), mode)
        finally:
            os.close(fd)
    except FileExistsError:
        raise UsageError(f"{name}: already exists", [Problem(name, "already exists; refusing to overwrite it")]) from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UsageError(f"{name}: a link or file is in the way", [Problem(name, "a directory on the way is a symbolic link or a file; refusing to write through it")]) from None
        raise _cannot_write(Path(name), exc) from None


def _enter(parent: int, name: str) -> int:
    """The directory ``name`` in ``parent`` (made when missing), opened without following a link."""
    try:
        os.mkdir(name, 0o777, dir_fd=parent)
    except FileExistsError:
        pass
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)


def _create(directory: int, name: str, data: bytes, mode: int) -> None:
    """Write a temporary file in ``directory`` and hard-link it to ``name``: the link fails with
    `FileExistsError` when anything (a dangling symlink too) holds the name."""
    temp = f".{name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.link(temp, name, src_dir_fd=directory, dst_dir_fd=directory, follow_symlinks=False)
    finally:
        os.unlink(temp, dir_fd=directory)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _cannot_write(path: Path, exc: OSError) -> UsageError:
    return UsageError(f"{path}: cannot write", [Problem(str(path), f"cannot write: {exc.strerror or exc}")])


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
