"""Reading an input file with a bound on what it may cost, whatever the path turns out to be.

``st_size`` says nothing about a device (``/dev/zero`` is 0 bytes and endless) or a FIFO
(opening one blocks until a writer comes), so a size check before reading is not enough:
`read_bounded` opens without blocking, refuses anything that is not a regular file, and
reads at most ``limit`` bytes, refusing a file that holds more. Memory stays under about
``limit`` and nothing waits on a writer.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class InputRefused(Exception):
    """The file is not a regular file, or larger than the limit; the message says which."""


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    `InputRefused` for a directory, device, FIFO or socket, or a file over ``limit`` bytes
    (also one that grows past it while being read); `OSError` when it cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputRefused("is a directory, expected a file")
        if not stat.S_ISREG(info.st_mode):
            raise InputRefused(f"is not a regular file ({_kind(info.st_mode)}); refusing to read it")
        if info.st_size > limit:
            raise InputRefused(f"file is {info.st_size} bytes, over the {limit}-byte limit (WFGY_MAX_FILE_BYTES)")
        chunks, total = [], 0
        size = info.st_size + 1  # one read for the whole file as it stands (plus one byte: did it grow?)
        while True:
            chunk = os.read(fd, min(size, limit + 1 - total))
            size = 1 << 20
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise InputRefused(f"file is over the {limit}-byte limit (WFGY_MAX_FILE_BYTES)")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"
