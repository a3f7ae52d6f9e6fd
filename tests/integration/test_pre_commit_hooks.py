"""The pre-commit hooks (``.pre-commit-hooks.yaml``), installed and run for real by
``pre-commit try-repo`` in a throwaway repository, and the README's ``.pre-commit-config.yaml``
entry as pasted (a branch, then pinned to its commit by ``pre-commit autoupdate``).

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
import yaml

from tests.helpers import example_repository, git
from tests.integration.readme_install import REPOSITORY_URL, install_snippets, package_repository

pytestmark = pytest.mark.slow

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


def _repository(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    git(path, "init", "-q")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "init")
    return path


def _pre_commit(project: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WFGY_", "PRE_COMMIT"))}
    env.update(PRE_COMMIT_HOME=str(home), NO_COLOR="1", PRE_COMMIT_COLOR="never")
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=project, env=env, capture_output=True, text=True, timeout=300)


def _try_repo(hooks: Path, project: Path, hook: str, home: Path) -> subprocess.CompletedProcess:
    return _pre_commit(project, home, "try-repo", str(hooks), hook, "--all-files", "--color", "never")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed (pre-commit needs it)")
def test_hooks_validate_policies_and_lint_prompts(tmp_path):
    hooks = package_repository(tmp_path / "hooks")
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
def test_the_readme_entry_passes_on_the_example_as_pasted_and_autoupdate_pins_it(tmp_path):
    """End to end, through the README's ``.pre-commit-config.yaml`` with only the URL pointed
    at a local copy: ``rev: main`` installs and runs (pre-commit warns about a branch); a
    repository holding the example (workflow, Kubernetes manifests and all) passes both
    hooks; a stray prompt variable fails prompt lint, a broken policy under policies/ fails
    validate. ``pre-commit autoupdate`` then pins the commit main points at, and once a
    release is tagged, the tag."""
    (snippet,) = [s for s in install_snippets("yaml") if "rev:" in s]
    hooks = package_repository(tmp_path / "hooks")
    project = example_repository(tmp_path / "project")
    config = project / ".pre-commit-config.yaml"
    config.write_text(snippet.replace(REPOSITORY_URL, hooks.as_uri()))
    assert yaml.safe_load(config.read_text())["repos"][0]["rev"] == "main"
    git(project, "add", ".pre-commit-config.yaml")
    home = tmp_path / "cache"
    done = _pre_commit(project, home, "run", "--all-files", "--color", "never")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "wfgy-rules validate....." in done.stdout and "wfgy-rules prompt lint....." in done.stdout
    assert "appears to be a mutable reference" in done.stdout + done.stderr  # said, and it still runs
    prompt = project / "prompts" / "support.jinja"
    prompt.write_text(prompt.read_text() + "Coupon: {{ coupon_code }}\n")
    done = _pre_commit(project, home, "run", "wfgy-rules-prompt-lint", "--all-files", "--color", "never")
    assert done.returncode == 1 and "prompts/support.jinja:6:12: coupon_code (jinja2) has no default" in done.stdout, done.stdout
    policy = project / "policies" / "serving-limits.yaml"
    policy.write_text(policy.read_text().replace("severity: high", "severity: urgent", 1))
    done = _pre_commit(project, home, "run", "wfgy-rules-validate", "--all-files", "--color", "never")
    assert done.returncode == 1 and "policies/serving-limits.yaml:" in done.stdout and "severity: \"urgent\"" in done.stdout, done.stdout
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=hooks, capture_output=True, text=True, check=True).stdout.strip()
    done = _pre_commit(project, home, "autoupdate")
    assert done.returncode == 0 and yaml.safe_load(config.read_text())["repos"][0]["rev"] == head, done.stdout + done.stderr
    git(hooks, "tag", "v0.1.0")
    done = _pre_commit(project, home, "autoupdate")
    assert done.returncode == 0 and yaml.safe_load(config.read_text())["repos"][0]["rev"] == "v0.1.0", done.stdout + done.stderr
