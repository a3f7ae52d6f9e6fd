"""``wfgy-rules init`` writes only inside its directory: any entry already at a name it writes
(a dangling symbolic link included) or a link where one of its directories goes stops it
(exit 2, nothing written), and its writer (`write_new`) never writes through a link, even
one planted after the check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import run_cli
from wfgy_rules.documents.atomic_write import write_new
from wfgy_rules.errors import UsageError

WRITTEN = ("wfgy.yaml", "policies/team.yaml", "policies/team.test.yaml", "prompt_vars.yaml")


def entries(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def plant(root: Path, name: str, target: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).symlink_to(target)


@pytest.mark.parametrize("name, target, message", [
    ("wfgy.yaml", "../outside/x", "wfgy.yaml: is a symbolic link"),                      # dangling
    ("prompt_vars.yaml", "../outside/x", "prompt_vars.yaml: is a symbolic link"),        # dangling
    ("policies", "../outside", "policies: is a symbolic link"),                          # a directory elsewhere
    ("policies/team.test.yaml", "../../outside/x", "policies/team.test.yaml: is a symbolic link"),
    ("wfgy.yaml", "/dev/null", "wfgy.yaml: is a symbolic link"),
])
def test_init_refuses_a_planted_link_and_writes_nothing(tmp_path, name, target, message):
    project, outside = tmp_path / "project", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    plant(project, name, target)
    before = entries(project)
    done = run_cli("init", cwd=project)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(message) and "Traceback" not in done.stderr
    assert entries(outside) == [] and entries(project) == before


def test_init_refuses_a_file_where_its_directory_goes(tmp_path):
    (tmp_path / "policies").write_text("mine\n")
    done = run_cli("init", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("policies: is not a directory")
    assert entries(tmp_path) == ["policies"]


def test_init_writes_into_an_existing_real_directory(tmp_path):
    (tmp_path / "policies").mkdir()
    assert run_cli("init", cwd=tmp_path).returncode == 0
    assert all((tmp_path / name).is_file() and not (tmp_path / name).is_symlink() for name in WRITTEN)


def test_the_writer_refuses_a_link_planted_after_the_check(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    plant(project, "wfgy.yaml", "../outside/x")
    with pytest.raises(UsageError, match="wfgy.yaml: already exists"):
        write_new(project, "wfgy.yaml", "text\n")
    plant(project, "policies", "../outside")
    with pytest.raises(UsageError, match="policies/team.yaml: a link or file is in the way"):
        write_new(project, "policies/team.yaml", "text\n")
    assert entries(outside) == [] and sorted(os.listdir(project)) == ["policies", "wfgy.yaml"]
    write_new(project, "fresh/new.yaml", "text\n")
    assert (project / "fresh" / "new.yaml").read_text() == "text\n"
