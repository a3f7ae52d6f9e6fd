"""The pre-commit hooks (``.pre-commit-hooks.yaml``), installed and run for real by
``pre-commit try-repo`` in a throwaway repository.

The hook repository is a copy of this project's package files committed to a temporary git
repository, so the test never runs git in the working tree (and works from an sdist). pre-commit
installs the package into its own environment from the package index; about 30 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, example_repository

pytestmark = pytest.mark.slow

PACKAGE_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "wfgy_rules", "schemas", "rules")
POLICY = """apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: team}
rules:
  - id: team.replicas
    title: two replicas
    severity: medium
    facts: [file]
    assert: {key: file.serving.replicas, op: ge, value: 2}
"""

pre_commit = pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install pre-commit, in the test extra)")


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=60)


def _repository(path: Path, files: dict[str, str] | None = None, copy_from: Path | None = None) -> Path:
    path.mkdir()
    for name in PACKAGE_FILES if copy_from else ():
        source = copy_from / name
        if source.is_dir():
            shutil.copytree(source, path / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, path / name)
    for name, text in (files or {}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    _git(path, "init", "-q")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "init")
    return path


def _try_repo(hooks: Path, project: Path, hook: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WFGY_", "PRE_COMMIT"))}
    env.update(PRE_COMMIT_HOME=str(home), NO_COLOR="1", PRE_COMMIT_COLOR="never")
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(hooks), hook, "--all-files", "--color", "never"]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed (pre-commit needs it)")
def test_hooks_validate_policies_and_lint_prompts(tmp_path):
    hooks = _repository(tmp_path / "hooks", copy_from=REPO)
    project = _repository(tmp_path / "project", {
        "policies/team.yaml": POLICY,
        "policies/bad.yaml": POLICY.replace("severity: medium", "severity: hi"),  # any name: recognised by content
        "deploy/other.yaml": "not: a wfgy-rules file\n",  # not a wfgy-rules file: left alone
        "prompts/hello.j2": "Hello {{ name | default('you') }}\n",
    })
    home = tmp_path / "cache"
    done = _try_repo(hooks, project, "wfgy-rules-validate", home)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "policies/bad.yaml:7:15: rules[0].severity" in done.stdout
    assert "other.yaml" not in done.stdout
    (project / "policies" / "bad.yaml").unlink()
    done = _try_repo(hooks, project, "wfgy-rules-validate", home)
    assert done.returncode == 0, done.stdout + done.stderr
    done = _try_repo(hooks, project, "wfgy-rules-prompt-lint", home)
    assert done.returncode == 0 and "wfgy-rules prompt lint...." in done.stdout, done.stdout + done.stderr
    (project / "prompts" / "hello.j2").write_text("Hello {{ name }}\n")
    done = _try_repo(hooks, project, "wfgy-rules-prompt-lint", home)
    assert done.returncode == 1 and "prompts/hello.j2:1:10: name (jinja2) has no default" in done.stdout, done.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed (pre-commit needs it)")
def test_hooks_pass_on_the_example_and_fail_on_a_stray_prompt_variable(tmp_path):
    """End to end: a repository holding the example (workflow, Kubernetes manifests and all)
    passes both hooks; a stray prompt variable fails prompt lint, a broken policy under
    policies/ fails validate."""
    hooks = _repository(tmp_path / "hooks", copy_from=REPO)
    project = example_repository(tmp_path / "project")
    home = tmp_path / "cache"
    for hook in ("wfgy-rules-validate", "wfgy-rules-prompt-lint"):
        done = _try_repo(hooks, project, hook, home)
        assert done.returncode == 0, done.stdout + done.stderr
    prompt = project / "prompts" / "support.jinja"
    prompt.write_text(prompt.read_text() + "Coupon: {{ coupon_code }}\n")
    done = _try_repo(hooks, project, "wfgy-rules-prompt-lint", home)
    assert done.returncode == 1 and "prompts/support.jinja:6:12: coupon_code (jinja2) has no default" in done.stdout, done.stdout
    policy = project / "policies" / "serving-limits.yaml"
    policy.write_text(policy.read_text().replace("severity: high", "severity: urgent", 1))
    done = _try_repo(hooks, project, "wfgy-rules-validate", home)
    assert done.returncode == 1 and "policies/serving-limits.yaml:" in done.stdout and "severity: \"urgent\"" in done.stdout, done.stdout
