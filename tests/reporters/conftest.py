"""A small project for the report formats: two policies over the ``file`` provider, with a
``for_each`` rule whose items carry ``path``/``line``/``column``, one result of every status,
blocking and non-blocking failures, and one waiver."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli

TEAM = """apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: team}
rules:
  - id: team.max-len
    title: max length fits context
    description: >
      The served max_model_len must fit
      the model's context window.
    severity: high
    tags: [security, serving]
    facts: [file]
    params: {context: 4096}
    assert: "file.serving.max_model_len <= params.context"
    message: "max_model_len {{ file.serving.max_model_len }} > context {{ params.context }}"
    remedy: {action: abort, hint: Lower max_model_len.}
  - id: team.replicas
    title: at least two replicas
    severity: medium
    facts: [file]
    assert: {key: file.serving.replicas, op: ge, value: 2}
  - id: team.items
    title: every item ok
    severity: critical
    facts: [file]
    for_each: file.data.items
    assert: item.ok
    message: "{{ item.path }} is not ok: {{ item.note }}"
    remedy: {action: abort, hint: Fix the item.}
  - id: team.soft
    title: images pinned
    severity: low
    facts: [file]
    assert: file.serving.pinned
    remedy: {action: warn, hint: Pin the image by digest.}
  - id: team.note
    title: many replicas
    severity: info
    facts: [file]
    assert: "file.serving.replicas > `5`"
"""
OPS = """apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: ops}
rules:
  - id: ops.port
    title: port above 1000
    severity: medium
    facts: [file]
    assert: "file.serving.port > `1000`"
  - id: ops.gpu
    title: gpu memory
    severity: low
    facts: [file]
    when: file.serving.gpu
    assert: file.serving.gpu
"""
CONFIG = """apiVersion: wfgy-rules/v1
kind: Config
policies: [team.yaml, ops.yaml]
providers:
  file: {files: {serving: serving.yaml, data: data.yaml}}
waivers:
  - {rule: team.items, reason: "legacy prompts, rewrite in Q1", expires: "2099-01-31", match: {path: "prompts/legacy/*"}}
"""
SERVING = "max_model_len: 8192\nreplicas: 2\npinned: false\nport: '80'\ngpu: false\n"
DATA = """items:
  - {path: prompts/legacy/a.txt, line: 3, column: 5, ok: false, note: old}
  - {path: ./prompts/new.txt, line: 7, column: 1, ok: false, note: "100%, a|b: c\\nnext <b> & more"}
  - {path: prompts/fine.txt, line: 1, ok: true, note: fine}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The project above in a temporary directory (the working directory of `report`)."""
    for name, text in (("team.yaml", TEAM), ("ops.yaml", OPS), ("wfgy.yaml", CONFIG), ("serving.yaml", SERVING), ("data.yaml", DATA)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def rule_line(rule_id: str) -> int:
    """The line of ``- id: RULE_ID`` in its policy file."""
    for policy in (TEAM, OPS):
        lines = policy.splitlines()
        if f"  - id: {rule_id}" in lines:
            return lines.index(f"  - id: {rule_id}") + 1
    raise KeyError(rule_id)


def serving_line(key: str) -> int:
    """The line of ``KEY:`` in ``serving.yaml``: where a rule over ``file.serving.KEY`` points."""
    return [line.split(":", 1)[0] for line in SERVING.splitlines()].index(key) + 1


def report(project: Path, fmt: str, *args: str, env: dict[str, str] | None = None) -> str:
    """``wfgy-rules eval --format FMT ARGS`` in ``project``: its stdout (the run must judge, exit 0 or 1)."""
    done = run_cli("eval", "--format", fmt, *args, cwd=project, env=env)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout
