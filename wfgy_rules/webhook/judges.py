"""Reviews judged in forked processes, so that a deadline really stops the work.

``Judges(reviewer, count)`` forks ``count`` judge processes when the server starts, after
the config and policies are loaded: each inherits the compiled rules. A review's body goes
to an idle judge over a socket pair; the judge reads it within the bounds
(`wfgy_rules.webhook.bounds.parse`), sends back the request's uid, judges it on its own
main thread — where each rule's time budget and the regex time cap apply
(`wfgy_rules.policy.deadlines`) — and sends back the verdict.

When the review's deadline passes first, the judge is killed (SIGKILL) and a fresh one
forked in its place: nothing goes on judging after the answer. Waiting for an idle judge
counts against the deadline too, so at most ``count`` reviews are parsed and judged at
once.

Memory: on Linux each judge may allocate ``JUDGE_MEMORY`` bytes beyond what it inherited
(``RLIMIT_DATA``: its heap and private mappings). A review that needs more fails in that
judge alone (``MemoryError``: answered per the failure mode), never in the server, and the
judge is replaced; one left holding more than three quarters of its allowance after a
review is replaced too, so that what a judge keeps between reviews cannot creep up. The
bounds of `wfgy_rules.webhook.bounds` keep the costliest review well inside the allowance.

Judges ignore SIGINT and SIGTERM (the server decides when they end), are killed by the
kernel when the server dies (Linux ``PR_SET_PDEATHSIG``), keep none of the server's
descriptors (its listening socket, its connections, the other judges' channels), and are
killed and reaped when it stops.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

from wfgy_rules.webhook.bounds import BadReview, parse
from wfgy_rules.webhook.review import Reviewer, uid_of
from wfgy_rules.workers import die_with_parent

DEFAULT_JUDGES = 2
JUDGE_MEMORY = 64 * 1024 * 1024
_HEADER = struct.Struct("!I")  # a frame: its length, then a body (to a judge) or a JSON object (back)
_ENDING = {signal.SIGINT, signal.SIGTERM}


class Overrun(Exception):
    """The deadline passed before the verdict (the judge, if one had started, is gone)."""

    def __init__(self, uid: str):
        super().__init__(uid)
        self.uid = uid


class Broken(Exception):
    """The judge process ended before its verdict (killed by the system, a crash)."""

    def __init__(self, uid: str):
        super().__init__(uid)
        self.uid = uid


class _Judge:
    """The server's side of one judge process."""

    def __init__(self, pid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.pid, self.reader, self.writer = pid, reader, writer
        self.uid = ""  # of the review in hand, once the judge has read it

    def end(self) -> None:
        """Kill the process (it may be judging) and reap it."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.writer.transport.abort()
        os.waitpid(self.pid, 0)


class Judges:
    def __init__(self, reviewer: Reviewer, count: int = DEFAULT_JUDGES):
        if count < 1:
            raise ValueError("at least one judge")
        self.reviewer, self.count = reviewer, count
        self._idle: asyncio.Queue[_Judge] = asyncio.Queue()
        self._running: set[_Judge] = set()
        self._stopped = False

    async def start(self) -> None:
        for _ in range(self.count):
            self._idle.put_nowait(await self._fork())

    def pids(self) -> list[int]:
        return sorted(judge.pid for judge in self._running)

    async def judge(self, body: bytes, deadline: float) -> dict[str, Any]:
        """The judge's last frame for ``body``: ``{"kind": "verdict", "verdict", "record"}``,
        ``{"kind": "bad", "reason"}`` (HTTP 400) or ``{"kind": "error", "error", "uid"}`` (an
        exception's type name). `Overrun` past ``deadline`` (`time.monotonic`), `Broken`
        when the judge process died."""
        if len(self._running) < self.count:
            await self._top_up()
        try:
            judge = self._idle.get_nowait() if not self._idle.empty() else await asyncio.wait_for(self._idle.get(), _left(deadline))
        except asyncio.TimeoutError:
            raise Overrun("") from None
        judge.uid = ""
        try:
            frame = await asyncio.wait_for(self._exchange(judge, body), _left(deadline))
        except asyncio.TimeoutError:
            await self._replace(judge)
            raise Overrun(judge.uid) from None
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            await self._replace(judge)
            raise Broken(judge.uid) from None
        except BaseException:  # cancelled (the server is stopping): what the judge holds is unknown
            self._running.discard(judge)
            judge.end()
            raise
        if frame.get("retire"):
            await self._replace(judge)
        else:
            self._idle.put_nowait(judge)
        return frame

    def stop(self) -> None:
        """Kill and reap every judge; none is forked after this."""
        self._stopped = True
        while self._running:
            self._running.pop().end()

    async def _exchange(self, judge: _Judge, body: bytes) -> dict[str, Any]:
        if len(body) < 1 << 16:
            judge.writer.write(_HEADER.pack(len(body)) + body)  # one send for a usual review
        else:
            judge.writer.write(_HEADER.pack(len(body)))  # a large body is not copied to join them
            judge.writer.write(body)
        await judge.writer.drain()
        while True:
            (size,) = _HEADER.unpack(await judge.reader.readexactly(_HEADER.size))
            frame = json.loads(await judge.reader.readexactly(size))
            if frame["kind"] != "uid":
                return frame
            judge.uid = frame["uid"]

    async def _replace(self, judge: _Judge) -> None:
        self._running.discard(judge)
        judge.end()
        await self._top_up()

    async def _top_up(self) -> None:
        """Fork judges up to ``count``; a fork that fails (no memory, no pids left) is tried
        again at the next review, and until then the others judge."""
        while not self._stopped and len(self._running) < self.count:
            try:
                self._idle.put_nowait(await self._fork())
            except OSError:
                return

    async def _fork(self) -> _Judge:
        ours, theirs = socket.socketpair()
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _ENDING)  # until the judge has its own handlers
        try:
            pid = os.fork()
            if pid == 0:
                _serve(self.reviewer, theirs.fileno(), held)
        except OSError:
            ours.close()
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        judge = _Judge(pid, reader, writer)
        self._running.add(judge)
        return judge


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _serve(reviewer: Reviewer, fd: int, mask: set[signal.Signals]) -> None:
    """In a judge: each body read, judged and answered, until the server closes the channel;
    then exit, never returning into the server's stack."""
    code = 0
    try:
        signal.set_wakeup_fd(-1)  # the server's event loop, not ours
        for number in _ENDING:
            signal.signal(number, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        die_with_parent()
        os.closerange(3, fd)  # the server's sockets, connections and other judges' channels
        os.closerange(fd + 1, os.sysconf("SC_OPEN_MAX"))
        gc.freeze()  # what was inherited is never scanned, so its pages stay shared
        ceiling = _cap_memory(JUDGE_MEMORY)
        channel = socket.socket(fileno=fd)
        retire = False
        while not retire and (body := _received(channel)) is not None:
            for frame in _frames(reviewer, body):
                if frame["kind"] != "uid" and ceiling is not None and (_data_bytes() or 0) > ceiling - JUDGE_MEMORY // 4:
                    frame["retire"] = True
                retire = bool(frame.get("retire"))
                data = json.dumps(frame).encode()
                channel.sendall(_HEADER.pack(len(data)) + data)
    except BaseException:  # noqa: BLE001 — the server went away, or a frame could not be sent
        code = 1
    finally:
        os._exit(code)


def _cap_memory(allowance: int) -> int | None:
    """Limit this process's data (heap and private mappings) to what it has plus
    ``allowance``: the ceiling in bytes, or None where that cannot be done (not Linux)."""
    data = _data_bytes()
    if data is None:
        return None
    try:
        import resource

        hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
        ceiling = data + allowance if hard == resource.RLIM_INFINITY else min(data + allowance, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (ceiling, hard))
    except (ImportError, OSError, ValueError):
        return None
    return ceiling


def _data_bytes() -> int | None:
    """This process's data size (``VmData``), or None without ``/proc``."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _frames(reviewer: Reviewer, body: bytearray) -> Iterator[dict[str, Any]]:
    uid, failed = "", ""
    try:
        review = parse(body)
        uid = uid_of(review)
        yield {"kind": "uid", "uid": uid}
        verdict = reviewer.review(review)
    except BadReview as exc:
        yield {"kind": "bad", "reason": str(exc)}
        return
    except Exception as exc:  # noqa: BLE001 — answered per the failure mode
        failed = type(exc).__name__
    else:
        yield {"kind": "verdict", "verdict": verdict.response, "record": verdict.record}
        return
    # out of the handler, so what the review built is freed before the answer is sent
    yield {"kind": "error", "error": failed, "uid": uid, "retire": failed == "MemoryError"}


def _received(channel: socket.socket) -> bytearray | None:
    """The next body, or None when the server closed the channel."""
    header = _exactly(channel, _HEADER.size)
    return None if header is None else _exactly(channel, _HEADER.unpack(header)[0])


def _exactly(channel: socket.socket, size: int) -> bytearray | None:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        count = channel.recv_into(view[got:])
        if not count:
            return None
        got += count
    return buffer
