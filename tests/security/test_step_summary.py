"""``GITHUB_STEP_SUMMARY`` is a side output: when it cannot be written (a missing directory,
a directory, a read-only file) the annotations are still printed, the verdict and exit code
are the run's own, and one warning on stderr says why the summary is missing."""

from __future__ import annotations

import os

import pytest

from tests.helpers import run_cli


@pytest.mark.parametrize("target", ["missing-dir/summary.md", "a-directory", "read-only.md"])
def test_an_unwritable_summary_costs_only_the_summary(project, target):
    (project / "a-directory").mkdir()
    read_only = project / "read-only.md"
    read_only.write_text("")
    read_only.chmod(0o444)
    (project / "serving.yaml").write_text("max_model_len: 9000\n")  # fails team.max-len
    env = {"GITHUB_STEP_SUMMARY": str(project / target)}
    if target == "read-only.md" and os.geteuid() == 0:
        env["GITHUB_STEP_SUMMARY"] = "/proc/version"  # root ignores file modes; a file root cannot write either
    done = run_cli("eval", "--format", "github", cwd=project, env=env)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("::error ") and "team.max-len" in done.stdout
    assert "cannot append the job summary" in done.stderr and "internal error" not in done.stderr


def test_a_writable_summary_is_appended(project):
    summary = project / "summary.md"
    summary.write_text("earlier step\n")
    done = run_cli("eval", "--format", "github", cwd=project, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 0 and summary.read_text().startswith("earlier step\n## ")
