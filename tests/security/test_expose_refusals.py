"""``env.expose`` and ``kubernetes.expose`` never publish a secret: not a name the same config
declares a secret, not a value shaped like another service's credential (shapes from gitleaks'
documented rules, listed with their sources in ``wfgy_rules/providers/env/env_names.yaml``).
Both providers use one test (``wfgy_rules/providers/env/credentials.py``)."""

from __future__ import annotations

import json

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


# One credential test for every provider that can expose a value: what `env.expose` refuses,
# `kubernetes.expose` refuses too, and the other way round.
LEAKED_BEFORE = [  # values the kubernetes provider printed before it shared the env test
    "postgres://admin:PASSCANARY@db/prod",                              # a URL with user info
    "ghp_" + "C" * 30 + "CANARY",                                       # GitHub token
    "gsk_CANARY1234567890",                                             # Groq key
    "AIzaCANARY1234567890",                                             # Google key
    "Server=db;User Id=app;Password=CANARY",                            # a password assignment
    "--header=Authorization: Bearer sk-or-v1-CANARY",                   # an embedded OpenRouter key
    "xoxb-1234567890-CANARY",                                           # Slack bot token
]
MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: llm}
spec:
  template:
    spec:
      containers:
        - name: server
          image: vllm/vllm-openai:v0.6.3
          env:
            - {name: LOG_LEVEL, value: info}
            - {name: SETTING, value: %s}
"""
K8S_CONFIG = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: [builtin]
providers:
  kubernetes: {paths: [deploy.yaml], expose: [LOG_LEVEL, SETTING]}
"""


@pytest.mark.parametrize("value", LEAKED_BEFORE)
def test_kubernetes_refuses_what_env_refuses(tmp_path, value):
    (tmp_path / "wfgy.yaml").write_text(K8S_CONFIG)
    (tmp_path / "deploy.yaml").write_text(MANIFEST % json.dumps(value))
    for args in (["facts", "--provider", "kubernetes"], ["query", "kubernetes.workloads[].containers[].env[]"], ["eval", "-f", "json"]):
        done = run_cli(*args, cwd=tmp_path)
        assert "refusing to expose secret variable SETTING" in done.stdout + done.stderr, (args, done.stdout, done.stderr)
        assert "CANARY" not in done.stdout + done.stderr, args
    (tmp_path / "wfgy.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Config\nproviders: {env: {expose: [SETTING]}}\n")
    done = run_cli("facts", "--provider", "env", cwd=tmp_path, env={"SETTING": value})
    assert "refusing to expose secret variable SETTING" in done.stdout and "CANARY" not in done.stdout + done.stderr


def test_kubernetes_refuses_a_name_the_declared_env_marks_secret(tmp_path):
    (tmp_path / "wfgy.yaml").write_text(K8S_CONFIG.replace("expose:", "declared_env: [{name: SETTING, secret: true}], expose:"))
    (tmp_path / "deploy.yaml").write_text(MANIFEST % "plain-CANARY")
    done = run_cli("facts", "--provider", "kubernetes", cwd=tmp_path)
    assert "refusing to expose secret variable SETTING" in done.stdout and "CANARY" not in done.stdout + done.stderr


def test_kubernetes_still_exposes_an_ordinary_value(tmp_path):
    (tmp_path / "wfgy.yaml").write_text(K8S_CONFIG)
    (tmp_path / "deploy.yaml").write_text(MANIFEST % "https://db.example.com/v1")
    done = run_cli("query", "kubernetes.workloads[0].containers[0].env[].value", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout) == ["info", "https://db.example.com/v1"]
