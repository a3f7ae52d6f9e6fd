"""Forked workers (`wfgy_rules.workers`): results in order, failures raised in the caller,
and no process left once the generator ends, however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

import pytest

from wfgy_rules import workers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
def children():
    """This process's children started since the test began (another test may have left
    some), zombies included: a worker killed but not reaped still counts."""
    def listed() -> set[int]:
        return {int(pid) for pid in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()}

    before = listed()
    return lambda: sorted(listed() - before)


def test_results_come_in_the_order_of_the_ranges_whatever_the_number_of_workers(children):
    def work(start, stop):
        time.sleep(0.01 * ((start * 7) % 3))  # workers finish out of order
        return [(n, os.getpid()) for n in range(start, stop)]

    for jobs in (1, 2, 3, 7):
        got = [part for part in workers.in_order(work, 50, 4, jobs)]
        assert [n for part in got for n, _ in part] == list(range(50))
        assert len({pid for part in got for _, pid in part} - {os.getpid()}) == min(jobs, 13)
    assert children() == []


def test_an_error_in_a_worker_is_raised_in_the_caller_and_every_worker_ends(children):
    def work(start, stop):
        if start == 20:
            raise ValueError("range 20 is broken")
        return list(range(start, stop))

    got = []
    with pytest.raises(workers.WorkerFailed, match="a worker process failed: ValueError: range 20 is broken"):
        for part in workers.in_order(work, 40, 5, 2):
            got.extend(part)
    assert got == list(range(20))
    assert children() == []


def test_a_worker_killed_outright_is_named_not_waited_for(children):
    def work(start, stop):
        if start == 10:
            os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
        return [start]

    with pytest.raises(workers.WorkerFailed, match=r"ended before its work was done \(killed by SIGKILL\)"):
        list(workers.in_order(work, 40, 5, 2))
    assert children() == []


def test_the_time_limit_raises_and_kills_the_workers_still_working(children):
    def work(start, stop):
        time.sleep(0 if start == 0 else 60)
        return [start]

    began = time.monotonic()
    got = []
    with pytest.raises(TimeoutError):
        for part in workers.in_order(work, 4, 1, 2, seconds=0.5):
            got.extend(part)
    assert got == [0] and time.monotonic() - began < 10
    assert children() == []


def test_closing_the_generator_early_ends_the_workers_at_once(children):
    with closing(workers.in_order(lambda start, stop: time.sleep(0.05) or [start], 1000, 1, 2)) as parts:
        assert next(parts) == [0]
        assert len(children()) == 2
    assert children() == []


def test_workers_leave_ctrl_c_to_the_caller_and_die_on_sigterm():
    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)  # what the CLI installs
    try:
        seen = list(workers.in_order(lambda start, stop: (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)), 2, 1, 2))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == [(signal.SIG_IGN, signal.SIG_DFL)] * 2


def test_workers_die_with_a_caller_killed_outright(tmp_path):
    """SIGKILL cannot be handled: the kernel ends the workers with their parent."""
    script = textwrap.dedent("""
        import os, sys, time
        from wfgy_rules import workers
        def work(start, stop):
            os.write(1, f"{os.getpid()}\\n".encode())  # one write: the two workers share the pipe
            time.sleep(60)
        list(workers.in_order(work, 2, 1, 2))
    """)
    caller = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pids = [int(caller.stdout.readline()), int(caller.stdout.readline())]
    caller.kill()
    caller.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
