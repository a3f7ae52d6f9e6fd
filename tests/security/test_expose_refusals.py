"""``env.expose`` never publishes a secret: not a name the same config declares a secret, not
a value shaped like another service's credential (shapes from gitleaks' documented rules,
listed with their sources in ``wfgy_rules/providers/env/env_names.yaml``)."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli

CONFIG = """apiVersion: wfgy-rules/v1
kind: Config
policies: [builtin]
providers:
  secrets: {required: [DB_PASS, GITHUB_PAT]}
  env: {expose: [%s]}
"""


def test_a_name_declared_a_secret_cannot_be_exposed(tmp_path):
    (tmp_path / "wfgy.yaml").write_text(CONFIG % "LOG_LEVEL, DB_PASS, GITHUB_PAT")
    env = {"DB_PASS": "hunter2-canary", "GITHUB_PAT": "canary-pat", "LOG_LEVEL": "info"}
    for args in (["facts", "--provider", "env"], ["eval", "-f", "json"]):
        done = run_cli(*args, cwd=tmp_path, env=env)
        assert "refusing to expose secret variable DB_PASS" in done.stdout, (args, done.stdout)
        assert "hunter2-canary" not in done.stdout + done.stderr and "canary-pat" not in done.stdout + done.stderr


@pytest.mark.parametrize("value", [
    "AKIAIOSFODNN7CANARYX",                                              # AWS access key id
    "ghp_" + "C" * 36,                                                   # GitHub personal token
    "github_pat_" + "C" * 82,                                            # GitHub fine-grained token
    "glpat-CANARYCANARYCANARY12",                                        # GitLab
    "xoxb-1234567890-CANARY",                                            # Slack bot token
    "https://hooks.slack.com/services/T000CANARY/B000CANARY/XXXXXXXXXXXXXXXXXXXXXXXX",
    "sk_live_CANARY1234567890",                                          # Stripe
    "npm_" + "C" * 36,                                                   # npm
    "-----BEGIN RSA PRIVATE KEY-----CANARY",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDQU5BUlkifQ.CANARYsig",            # JWT
    "Bearer sk-ant-api03-CANARY",
])
def test_a_credential_shaped_value_is_never_exposed(tmp_path, value):
    (tmp_path / "wfgy.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Config\nproviders: {env: {expose: [SETTING]}}\n")
    done = run_cli("facts", "-c", "wfgy.yaml", "--provider", "env", cwd=tmp_path, env={"SETTING": value})
    assert "refusing to expose secret variable SETTING" in done.stdout
    assert "CANARY" not in done.stdout + done.stderr and value not in done.stdout


def test_an_ordinary_value_is_still_exposed(tmp_path):
    (tmp_path / "wfgy.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Config\nproviders: {env: {expose: [SETTING]}}\n")
    done = run_cli("facts", "-c", "wfgy.yaml", "--provider", "env", cwd=tmp_path, env={"SETTING": "https://example.com/v1"})
    assert done.returncode == 0 and '"SETTING": "https://example.com/v1"' in done.stdout
