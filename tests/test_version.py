"""``wfgy-rules --version`` through the CLI: the version alone when the package is not a
clone of this project, the commit (and branch or tag) when it is, read from ``.git`` with no
git on PATH, and never a failure whatever ``.git`` holds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, git
from wfgy_rules import __version__

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed (the tests make clones with it)")


@pytest.fixture
def clone(tmp_path) -> Path:
    """A clone of the package: pyproject.toml and wfgy_rules/ committed on main."""
    root = tmp_path / "wfgy-rules"
    root.mkdir()
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(REPO / "wfgy_rules", root / "wfgy_rules", ignore=shutil.ignore_patterns("__pycache__"))
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "wfgy-rules")
    return root


def _version(package_root: Path, cwd: Path) -> str:
    """``--version`` of the package under ``package_root``, with no git on PATH."""
    no_git = cwd / "empty-path"
    no_git.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(package_root), "PATH": str(no_git), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-m", "wfgy_rules", "--version"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


def _head(root: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()


def test_a_clone_shows_its_commit_and_branch_then_its_tag(clone, tmp_path):
    commit = _head(clone)[:12]
    assert _version(clone, tmp_path) == f"wfgy-rules {__version__} (commit {commit} on main)\n"
    git(clone, "tag", "-a", "v0.1.0", "-m", "release")  # an annotated tag: a loose tag object
    assert _version(clone, tmp_path) == f"wfgy-rules {__version__} (commit {commit}, tag v0.1.0)\n"
    git(clone, "gc", "-q")  # refs and objects packed: the peeled line of packed-refs
    assert _version(clone, tmp_path) == f"wfgy-rules {__version__} (commit {commit}, tag v0.1.0)\n"
    (clone / "wfgy_rules" / "version.py").write_text((clone / "wfgy_rules" / "version.py").read_text() + "\n")
    git(clone, "commit", "-q", "-am", "next")
    git(clone, "checkout", "-q", "--detach")
    assert _version(clone, tmp_path) == f"wfgy-rules {__version__} (commit {_head(clone)[:12]})\n"


def test_a_worktree_reads_its_own_head(clone, tmp_path):
    git(clone, "worktree", "add", "-q", "-b", "feature", str(tmp_path / "feature"))
    assert (tmp_path / "feature" / ".git").is_file()
    assert _version(tmp_path / "feature", tmp_path) == f"wfgy-rules {__version__} (commit {_head(clone)[:12]} on feature)\n"


def test_anything_else_shows_the_version_alone(clone, tmp_path):
    plain = tmp_path / "plain"  # the package files without .git (an sdist, the Action's files)
    shutil.copytree(clone, plain, ignore=shutil.ignore_patterns(".git"))
    assert _version(plain, tmp_path) == f"wfgy-rules {__version__}\n"
    other = tmp_path / "other"  # vendored into another project's repository
    shutil.copytree(plain / "wfgy_rules", other / "wfgy_rules")
    (other / "pyproject.toml").write_text('[project]\nname = "their-service"\n')
    git(other, "init", "-q")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "theirs")
    assert _version(other, tmp_path) == f"wfgy-rules {__version__}\n"
    unborn = tmp_path / "unborn"  # git init, nothing committed yet
    shutil.copytree(plain, unborn)
    git(unborn, "init", "-q")
    assert _version(unborn, tmp_path) == f"wfgy-rules {__version__}\n"
    (clone / ".git" / "HEAD").write_bytes(b"\xff\xfe not a ref")
    assert _version(clone, tmp_path) == f"wfgy-rules {__version__}\n"
