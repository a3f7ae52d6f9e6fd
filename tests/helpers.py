"""What the tests share: the real CLI in a subprocess, the repository's paths, and the small
passing project (one policy over the ``file`` provider) that most end-to-end tests start from.

Import from here (``from tests.helpers import run_cli``); fixtures live in ``conftest.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_EXTERNAL = REPO.parent / "shared" / "external"

# A passing project: one policy over the `file` provider, the config that names it.
TEAM_POLICY = """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: team, owner: platform}
rules:
  - id: team.max-len
    title: max length fits context
    severity: high
    facts: [file]
    params: {context: 4096}
    assert: "file.serving.max_model_len <= params.context"
    message: "max_model_len {{ file.serving.max_model_len }} > context {{ params.context }}"
    remedy: {action: abort, hint: Lower max_model_len.}
"""
REPLICAS_RULE = """\
  - id: team.replicas
    title: at least two replicas
    severity: medium
    facts: [file]
    assert: {key: file.serving.replicas, op: ge, value: 2}
"""
TEAM_CONFIG = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: [./team.yaml]
providers:
  file: {files: {serving: serving.yaml}}
"""


def write_project(root: Path, serving: str = "max_model_len: 2048\n", policy: str = TEAM_POLICY) -> Path:
    """``root`` holding ``wfgy.yaml``, ``team.yaml`` (``policy``) and ``serving.yaml`` (``serving``)."""
    (root / "team.yaml").write_text(policy)
    (root / "wfgy.yaml").write_text(TEAM_CONFIG)
    (root / "serving.yaml").write_text(serving)
    return root


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "wfgy-rules"
    return [str(script)] if script.exists() else [sys.executable, "-m", "wfgy_rules"]


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``wfgy-rules ARGS`` as a user would; returns the completed process (text mode)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WFGY_")}
    full_env["NO_COLOR"] = "1"
    full_env.update(env or {})
    return subprocess.run([*cli_command(), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, input=input)


def read_pty(primary: int) -> str:
    """Everything a child wrote to a pseudo-terminal, once its side is closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the pty is closed once the child's output is read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    return b"".join(chunks).decode()


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def git(cwd: Path, *args: str) -> None:
    """Run git in ``cwd`` with a fixed identity, no signing, branch ``main``."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=60)


def example_repository(root: Path) -> Path:
    """A scratch git repository holding a copy of ``policies.example/`` with its two planted
    defects repaired (the card's tokenizer fingerprint, the undeclared ``ticket_id``) and
    without its secrets: what a team's repository looks like on a CI runner."""
    import json
    import shutil

    shutil.copytree(REPO / "policies.example", root, ignore=shutil.ignore_patterns("secrets"))
    runtime = json.loads(run_cli("facts", "--provider", "runtime", cwd=root).stdout)["runtime"]
    card = json.loads((root / "model-card.json").read_text())
    card["tokenizer_sha"] = runtime["model_dir"]["tokenizer"]["sha256"][:12]
    (root / "model-card.json").write_text(json.dumps(card, indent=2) + "\n")
    with (root / "prompt_vars.yaml").open("a") as handle:
        handle.write("  ticket_id: {required: true, description: The app passes the open ticket's id.}\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def reversed_keys(value):
    """``value`` with every object's keys in reverse order: the same JSON, written differently."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value
