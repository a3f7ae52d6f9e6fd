"""A prompt scan in worker processes stops with its provider: at the provider's timeout, on
SIGINT and on SIGTERM (what Kubernetes and CI cancellation send), and leaves no process behind.

The project is a real one: sixteen dense Jinja templates that take about a minute to parse
on two workers (``workers: 2``), under ``timeout: 2s``. Every process the CLI starts is
recorded from ``/proc`` while it runs; after it ends, none may be left (workers that survived
would hold the output pipes, so a CI step would hang on them).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import cli_command, dedent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

FILES, LINES = 16, 20000  # ~4 s of parsing per file
TEMPLATE = "".join(f"{{% if x{i} %}}y{{% endif %}}\n" for i in range(LINES))


def write_big_scan(root: Path, timeout: str = "2s") -> Path:
    (root / "prompts").mkdir()
    for n in range(FILES):
        (root / "prompts" / f"p{n}.j2").write_text(TEMPLATE)
    (root / "pol.yaml").write_text(dedent("""
        apiVersion: wfgy-rules/v1
        kind: Policy
        metadata: {name: scan}
        rules:
          - {id: scan.vars, title: prompt variables declared, severity: high, facts: [prompts], assert: "length(prompts.undeclared) == `0`"}
    """))
    (root / "wfgy.yaml").write_text(dedent(f"""
        apiVersion: wfgy-rules/v1
        kind: Config
        policies: [pol.yaml]
        providers:
          prompts: {{paths: ["prompts/*.j2"], workers: 2, timeout: {timeout}}}
    """))
    return root


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a live process; None when gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return None if fields[0] == "Z" else (int(fields[1]), fields[19])


def descendants(root: int) -> dict[int, str]:
    """{pid: start time} of every live process below ``root``."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents[int(entry)] = stat
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, started) in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = started
                frontier.append(pid)
    return found


def survivors(seen: dict[int, str]) -> list[int]:
    """Those of ``seen`` still alive (the same process: same start time)."""
    return [pid for pid, started in seen.items() if (stat := _stat(pid)) is not None and stat[1] == started]


class Run:
    """The CLI on the big scan, with every process it started recorded."""

    def __init__(self, root: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("WFGY_")}
        env["NO_COLOR"] = "1"
        self.started = time.monotonic()
        self.process = subprocess.Popen([*cli_command(), "eval"], cwd=root, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.seen: dict[int, str] = {}

    def watch_until_workers(self, count: int = 2, limit: float = 20) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and self.process.poll() is None:
            self.seen.update(descendants(self.process.pid))
            if len(self.seen) >= count:
                return
            time.sleep(0.02)
        raise AssertionError(f"the scan never started {count} workers: {self.seen}")

    def finish(self, limit: float) -> tuple[int, str, str, float]:
        """Wait (watching for new processes) until the CLI ends; (code, out, err, seconds since start)."""
        deadline = time.monotonic() + limit
        try:
            while self.process.poll() is None and time.monotonic() < deadline:
                self.seen.update(descendants(self.process.pid))
                time.sleep(0.05)
            out, err = self.process.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill_all()
            raise AssertionError(f"the CLI or its workers were still running {limit:g}s on") from None
        return self.process.returncode, out, err, time.monotonic() - self.started

    def kill_all(self) -> None:
        for pid in [self.process.pid, *survivors(self.seen)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.process.communicate()


@pytest.fixture
def big_scan(tmp_path):
    return write_big_scan(tmp_path)


def _assert_none_left(run: Run) -> None:
    time.sleep(0.3)  # a worker killed at the parent's death takes a moment to go
    left = survivors(run.seen)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left behind: {left}"


def test_the_scan_stops_at_the_providers_timeout_and_leaves_no_worker(big_scan):
    run = Run(big_scan)
    run.watch_until_workers()
    code, out, err, elapsed = run.finish(limit=30)
    assert code == 1, (out, err)
    assert "provider 'prompts' did not finish within its 2s timeout" in out
    assert elapsed < 8, elapsed  # 2 s deadline, a second to start, a little to stop; unbounded: a minute
    assert "Traceback" not in err, err
    _assert_none_left(run)


@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_mid_scan_ends_the_run_at_once_with_its_code(tmp_path, sig, code, word):
    root = write_big_scan(tmp_path, timeout="120s")
    run = Run(root)
    run.watch_until_workers()
    time.sleep(0.5)
    signalled = time.monotonic()
    run.process.send_signal(sig)
    returncode, out, err, _ = run.finish(limit=20)
    assert time.monotonic() - signalled < 5
    assert returncode == code, (out, err)
    assert err.strip().splitlines() == [word], err
    assert out == ""
    _assert_none_left(run)


def test_workers_die_with_a_parent_killed_outright(big_scan):
    """SIGKILL cannot be handled: the workers notice their parent is gone and stop."""
    (big_scan / "wfgy.yaml").write_text((big_scan / "wfgy.yaml").read_text().replace("timeout: 2s", "timeout: 120s"))
    run = Run(big_scan)
    run.watch_until_workers()
    run.process.kill()
    run.process.communicate(timeout=20)
    deadline = time.monotonic() + 5
    while survivors(run.seen) and time.monotonic() < deadline:
        time.sleep(0.05)
    _assert_none_left(run)
