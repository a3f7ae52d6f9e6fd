"""Nothing half-written, nothing unasked-for.

``--output``, ``--report`` and ``facts --output`` go through `wfgy_rules.documents.atomic_write.write_atomic`:
a temporary file in the target's own directory (so the rename cannot cross file systems),
renamed into place. A failure leaves the old file as it was and no temporary file behind.
A run writes nothing it was not asked to: on a read-only project (and, since root ignores
permissions, by comparing the directory tree before and after) ``eval`` adds, changes and
removes nothing.

Not tested: a SIGKILL in the middle of the write. The rename is what makes it atomic; the
tests below pin the mechanism (same directory, rename last, clean-up on every failure).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.helpers import run_cli
from wfgy_rules.documents.atomic_write import write_atomic
from wfgy_rules.errors import UsageError


def listing(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` with its type, size, mode and modification time."""
    out = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        out[path.relative_to(root).as_posix()] = (stat.S_IFMT(info.st_mode), info.st_size, stat.S_IMODE(info.st_mode), info.st_mtime_ns)
    return out


def test_the_temporary_file_is_beside_the_target_and_gone_afterwards(tmp_path, monkeypatch):
    renames = []
    real_replace = os.replace

    def spy(src, dst):
        renames.append((Path(src), Path(dst), Path(src).read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    target = tmp_path / "reports" / "report.json"
    target.parent.mkdir()
    write_atomic(target, '{"outcome": "pass"}\n')
    ((src, dst, text),) = renames
    assert src.parent == dst.parent == target.parent and src != dst
    assert text == '{"outcome": "pass"}\n'  # complete before the rename
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.json"]


@pytest.mark.parametrize("failure", [OSError(5, "Input/output error"), KeyboardInterrupt()])
def test_an_existing_report_is_intact_when_the_write_fails(tmp_path, monkeypatch, failure):
    target = tmp_path / "report.json"
    target.write_text("the previous report\n")
    target.chmod(0o640)

    def broken(src, dst):
        raise failure

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(UsageError if isinstance(failure, OSError) else KeyboardInterrupt) as info:
        write_atomic(target, "the new report\n")
    if isinstance(failure, OSError):
        assert info.value.lines() == [f"{target}: cannot write: Input/output error"]
    assert target.read_text() == "the previous report\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_failing_write_of_the_content_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    target.write_text("old\n")

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "chmod", disk_full)  # fails after the content is written, before the rename
    with pytest.raises(UsageError, match="cannot write"):
        write_atomic(target, "new content")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_the_new_file_keeps_the_old_permissions(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old\n")
    target.chmod(0o600)
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_cli_write_failures_are_exit_2_and_leave_nothing_behind(project):
    (project / "taken").mkdir()  # a directory where the report should go: the rename fails
    (project / "old.json").write_text("previous\n")
    before = listing(project)
    for args in (["eval", "--output", "taken"], ["eval", "--report", "json=taken", "--output", "old.json"],
                 ["eval", "--output", "missing-dir/report.txt"], ["facts", "--output", "taken"]):
        done = run_cli(*args, cwd=project)
        assert done.returncode == 2 and "cannot write" in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
        assert listing(project) == before, args


def test_eval_on_a_read_only_project_writes_nothing(project):
    (project / "facts.json").write_text('{"file": {"serving": {"max_model_len": 1}}}')
    paths = [project, *project.rglob("*")]
    try:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        before = listing(project)
        env = {"PYTHONDONTWRITEBYTECODE": "1"}
        for args in (["eval"], ["eval", "-f", "json"], ["eval", "--facts", "facts.json", "-f", "sarif"], ["facts"],
                     ["validate"], ["list"], ["explain", "team.max-len"], ["test", "."], ["preflight"]):
            done = run_cli(*args, cwd=project, env=env)
            assert done.returncode in (0, 2) and "Traceback" not in done.stderr, (args, done.stderr)
        after = listing(project)
    finally:
        for path in paths:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert after == before


# --- special files are written through, never replaced (issue: /dev/null became a regular file) ---


def test_a_character_device_stays_a_device(tmp_path):
    before = os.stat("/dev/null")
    write_atomic(Path("/dev/null"), "report\n")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and stat.S_IMODE(after.st_mode) == stat.S_IMODE(before.st_mode)
    assert after.st_ino == before.st_ino


def test_eval_output_and_env_out_to_dev_null_leave_it_a_device(project):
    done = run_cli("eval", "--output", "/dev/null", "--report", "json=/dev/null", cwd=project)
    assert done.returncode == 0, done.stderr
    env_out = run_cli("preflight", "--env-out", "/dev/null", cwd=project)
    assert env_out.returncode == 0, env_out.stderr
    info = os.stat("/dev/null")
    assert stat.S_ISCHR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o666


def test_a_fifo_is_written_through(tmp_path):
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_atomic(fifo, "through the pipe\n")
    reader.join(10)
    assert received == ["through the pipe\n"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_symlink_is_followed_and_kept(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real) and real.read_text() == "new"


def test_a_report_to_dev_stdout_goes_to_stdout_and_keeps_the_link(project):
    done = run_cli("eval", "--report", "json=/dev/stdout", cwd=project)
    assert done.returncode == 0, done.stderr
    assert '"outcome": "pass"' in done.stdout and Path("/dev/stdout").is_symlink()


def test_a_new_env_file_is_world_readable_and_an_existing_one_keeps_its_mode(tmp_path):
    from wfgy_rules.run.remedies import write_env_file

    fresh = tmp_path / "fresh.env"
    write_env_file(fresh, {"A": "1"})
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
    kept = tmp_path / "kept.env"
    kept.write_text("")
    kept.chmod(0o600)
    write_env_file(kept, {"A": "1"})
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and kept.read_text().endswith('A="1"\n')


def test_the_termination_log_is_not_written_through_a_symlink(tmp_path):
    from wfgy_rules.run.remedies import write_termination_log

    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "termination-log"
    link.symlink_to(victim)
    assert write_termination_log("failed", str(link)) is False and victim.read_text() == "precious"
    plain = tmp_path / "log"
    plain.write_text("old text that is longer")
    assert write_termination_log("failed", str(plain)) is True and plain.read_text() == "failed"


def test_env_out_swallowing_the_separator_is_a_usage_error(project):
    done = run_cli("preflight", "--env-out", "--", "true", cwd=project)
    assert done.returncode == 2 and "--env-out expects a FILE" in done.stderr
    assert not (project / "--").exists()
