"""Work split over forked worker processes, results in order, no process left behind.

``in_order(work, total, step, jobs)`` yields ``work(start, stop)`` for the consecutive
ranges of ``0..total`` (``step`` long), in order, computed by ``jobs`` processes forked from
the caller — each inherits what the caller built (a compiled plan, a list of files), so
only results travel, pickled, one pipe per worker. Range *i* is worked by process
*i mod jobs*: no task queue, no helper thread, and a worker runs at most a pipe's worth
ahead of the reader, so memory stays flat.

Ending is the point of this module (a `multiprocessing.Pool` could leave its workers
waiting on a lock at interpreter exit, and a Ctrl-C run would hang):

- workers ignore SIGINT (Ctrl-C reaches a whole process group; the caller decides), die on
  SIGTERM, and are killed by the kernel when the caller dies (Linux ``PR_SET_PDEATHSIG``),
  or else at their next write into the pipe it no longer reads;
- when the generator ends — exhausted, closed, an exception in the caller, the time limit —
  every worker is killed (SIGKILL, which nothing can block) and reaped;
- a worker that dies early (the out-of-memory killer) or meets an unexpected error raises
  `WorkerFailed` in the caller instead of leaving it waiting.

Callers hold the generator in ``contextlib.closing`` so an interruption while they handle
a result ends the workers at once, not when the generator is collected.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

_HEADER = struct.Struct("!Q")  # a frame: its length, then a pickled ("ok", value) or ("crash", message)
_PR_SET_PDEATHSIG = 1
PIPE_BYTES = 1 << 20  # how far ahead of the reader a worker may run (the unprivileged maximum)
_ENDING = {signal.SIGINT, signal.SIGTERM}  # held back while a worker is forked and put on the list


class WorkerFailed(RuntimeError):
    """A worker process died or raised before its work was done (an internal error, exit 3)."""


def available() -> bool:
    """Whether this platform can fork workers (POSIX)."""
    return hasattr(os, "fork")


def in_order(work: Callable[[int, int], Any], total: int, step: int, jobs: int,
             seconds: float | None = None) -> Iterator[Any]:
    """``work(start, min(start + step, total))`` for each ``start`` in ``range(0, total, step)``,
    in that order, from ``jobs`` forked processes; `TimeoutError` once ``seconds`` have passed
    (None: no limit)."""
    ranges = [(start, min(start + step, total)) for start in range(0, total, step)]
    end = None if seconds is None else time.monotonic() + seconds
    workers: list[_Worker] = []
    try:
        for number in range(min(jobs, len(ranges))):
            read_end, write_end = os.pipe()
            _widen(write_end)
            held = signal.pthread_sigmask(signal.SIG_BLOCK, ())  # the mask as it is
            pid = None
            try:
                signal.pthread_sigmask(signal.SIG_BLOCK, _ENDING)  # until the worker is on the list
                pid = os.fork()
                if pid == 0:
                    _serve(work, ranges[number::jobs], write_end, [read_end, *(other.fd for other in workers)], held)
                workers.append(_Worker(pid, read_end))
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
                os.close(write_end)
                if pid is None:  # the fork failed: no worker owns the read end
                    os.close(read_end)
        for index in range(len(ranges)):
            yield workers[index % len(workers)].received(end)
    finally:
        for worker in workers:
            worker.kill()
        for worker in workers:
            worker.reap()


def _serve(work: Callable[[int, int], Any], ranges: list[tuple[int, int]], write_end: int, unused: list[int],
           mask: set[signal.Signals]) -> None:
    """In a worker: each range worked and written as a frame; then exit, never returning
    into the caller's stack (no atexit handlers, no flush of buffers copied at the fork)."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not a handler the caller installed
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a SIGTERM that came since the fork ends it now
        die_with_parent()
        for fd in unused:  # the caller's read ends, copied by the fork
            os.close(fd)
        for start, stop in ranges:
            try:
                frame = ("ok", work(start, stop))
            except Exception as exc:  # noqa: BLE001 — reported to the caller, which raises it
                frame = ("crash", f"{type(exc).__name__}: {exc}")
            data = pickle.dumps(frame, pickle.HIGHEST_PROTOCOL)
            _write_all(write_end, _HEADER.pack(len(data)) + data)
            if frame[0] == "crash":
                break
    except BaseException:  # noqa: BLE001 — the caller went away (a broken pipe) or a signal came
        code = 1
    finally:
        os._exit(code)


def die_with_parent() -> None:
    """In a forked process: the kernel kills it when its parent dies (Linux); it exits at
    once when the parent is already gone."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the caller died before the kernel was told
        os._exit(1)


def _widen(fd: int) -> None:
    """Let a worker run up to `PIPE_BYTES` ahead of the reader (Linux; elsewhere the
    system's pipe size): a worker that must wait for each read idles while the reader
    writes the report."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or above the system's pipe-max-size
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Worker:
    """The caller's side of one worker: its pid and the read end of its pipe."""

    def __init__(self, pid: int, fd: int):
        self.pid, self.fd = pid, fd
        self.status: int | None = None  # its wait status, once reaped (its pid may then be reused)

    def received(self, end: float | None) -> Any:
        """The next result."""
        (length,) = _HEADER.unpack(self._read_exactly(_HEADER.size, end))
        kind, value = pickle.loads(self._read_exactly(length, end))
        if kind == "crash":
            raise WorkerFailed(f"a worker process failed: {value}")
        return value

    def _read_exactly(self, size: int, end: float | None) -> bytes:
        parts, missing = [], size
        while missing:
            if end is not None:
                left = end - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    raise TimeoutError
            part = os.read(self.fd, min(missing, 1 << 20))
            if not part:  # only the worker held the write end: it has exited
                raise WorkerFailed(f"a worker process ended before its work was done ({self._how_it_ended()})")
            parts.append(part)
            missing -= len(part)
        return b"".join(parts)

    def _how_it_ended(self) -> str:
        status = self.reap()
        if os.WIFSIGNALED(status):
            try:
                return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
            except ValueError:
                return f"killed by signal {os.WTERMSIG(status)}"
        return f"exit status {os.waitstatus_to_exitcode(status)}"

    def kill(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)  # a worker that has exited stays a zombie until reaped: never a stranger
        os.close(self.fd)

    def reap(self) -> int:
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
        return self.status
