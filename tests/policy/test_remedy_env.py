"""``remedy.env`` is checked at load: a name no process environment can hold, or a NUL in a
value, is a policy error (exit 2) instead of a preflight that logs a fallback and crashes."""

from __future__ import annotations

import pytest

from tests.helpers import TEAM_CONFIG, run_cli

POLICY = """apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: team}
rules:
  - id: team.gpu
    title: gpu
    severity: high
    facts: [file]
    assert: "file.serving.gpu"
    remedy:
      action: fallback
      env: {%s}
"""


@pytest.mark.parametrize(("env", "message"), [
    ('"BAD=NAME": "1"', "'BAD=NAME' is not an environment variable name"),
    ('"": "1"', "'' is not an environment variable name"),
    ('"9LIVES": "1"', "'9LIVES' is not an environment variable name"),
    ('CUDA_VISIBLE_DEVICES: "a\\0b"', "a value cannot hold a NUL character"),
])
@pytest.mark.parametrize("command", ["validate", "preflight"])
def test_a_fallback_env_no_process_can_take_is_refused_at_load(tmp_path, env, message, command):
    (tmp_path / "team.yaml").write_text(POLICY % env)
    (tmp_path / "wfgy.yaml").write_text(TEAM_CONFIG)
    (tmp_path / "serving.yaml").write_text("gpu: false\n")
    args = ["validate", "team.yaml"] if command == "validate" else ["preflight", "--", "true"]
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "team.yaml:12:" in done.stderr and message in done.stderr


def test_a_valid_fallback_env_still_starts_the_command_with_it(tmp_path):
    (tmp_path / "team.yaml").write_text(POLICY % 'CUDA_VISIBLE_DEVICES: ""')
    (tmp_path / "wfgy.yaml").write_text(TEAM_CONFIG)
    (tmp_path / "serving.yaml").write_text("gpu: false\n")
    done = run_cli("preflight", "--", "sh", "-c", 'echo "[$CUDA_VISIBLE_DEVICES]"', cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
