"""Shared test helpers: run the real CLI in a subprocess, write policy files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_EXTERNAL = REPO.parent / "shared" / "external"


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


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def write(tmp_path: Path):
    """write("name.yaml", text) → path, relative to the test's tmp directory."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def policy_text(*rules: str, name: str = "team") -> str:
    """A policy document around rule snippets (each a YAML list item, indented by two)."""
    return "apiVersion: wfgy-rules/v1\nkind: Policy\nmetadata: {name: %s}\nrules:\n%s" % (name, "".join(rules))


def has_rg() -> bool:
    return shutil.which("rg") is not None
