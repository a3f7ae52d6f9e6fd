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
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "a lone surrogate \ud800 cannot be encoded")
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
