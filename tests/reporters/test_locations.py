"""A team rule over a ``file`` fact points code scanning and workflow annotations at what it
judged: the key's line in the judged file (a ``for_each`` element's entry), not the rule's
line in its policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli

POLICY = """apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: limits}
rules:
  - id: limits.max-len
    title: max_model_len fits the model
    severity: high
    facts: [file, model_card]
    when: "model_card.present"
    assert: "file.serving.args.max_model_len <= model_card.declared.context_length"
    message: "max_model_len {{ file.serving.args.max_model_len }} exceeds {{ model_card.declared.context_length }}"
  - id: limits.replicas
    title: every model has two replicas
    severity: medium
    facts: [file]
    for_each: file.serving.models
    assert: "item.replicas >= `2`"
"""
SERVING = """# vLLM, as deployed
engine: vllm
args:
  tensor_parallel_size: 1
  max_model_len: 8192
models:
  - {name: chat, replicas: 2}
  - name: embed
    replicas: 1
"""
CONFIG = """apiVersion: wfgy-rules/v1
kind: Config
policies: [policies/limits.yaml]
providers:
  model_card: {path: model-card.json}
  file: {files: {serving: deploy/serving.yaml}}
"""


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    for name, text in {"policies/limits.yaml": POLICY, "deploy/serving.yaml": SERVING, "wfgy.yaml": CONFIG,
                       "model-card.json": json.dumps({"model": "acme/bot", "context_length": 4096})}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def located(repository: Path, *args: str) -> list[tuple[str, str, int, int]]:
    done = run_cli("eval", "--format", "sarif", *args, cwd=repository)
    assert done.returncode == 1, done.stderr
    return [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
             r["locations"][0]["physicalLocation"]["region"]["startLine"], r["locations"][0]["physicalLocation"]["region"]["startColumn"])
            for r in json.loads(done.stdout)["runs"][0]["results"]]


def test_a_rule_over_a_file_points_at_the_key_it_judged(repository):
    assert located(repository) == [
        ("limits.max-len", "deploy/serving.yaml", 5, 3),  # max_model_len: 8192
        ("limits.replicas", "deploy/serving.yaml", 8, 5),  # the second model's entry
    ]
    done = run_cli("eval", "--format", "github", cwd=repository)
    assert [line.split("::", 2)[1].split(",title=")[0] for line in done.stdout.splitlines()[:-1]] == [
        "error file=deploy/serving.yaml,line=5,col=3", "error file=deploy/serving.yaml,line=8,col=5"]


def test_facts_from_a_bundle_are_placed_in_the_files_the_config_names(repository):
    facts = json.loads(run_cli("facts", cwd=repository).stdout)
    (repository / "facts.json").write_text(json.dumps(facts))
    service = repository / "deploy"
    assert located(repository, "--facts", "facts.json") == located(repository)
    done = run_cli("eval", "--config", "../wfgy.yaml", "--facts", "../facts.json", "--format", "sarif", cwd=service)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in json.loads(done.stdout)["runs"][0]["results"]]
    assert uris == ["deploy/serving.yaml", "deploy/serving.yaml"]  # relative to the repository root


def test_a_key_the_file_lacks_points_at_its_nearest_parent_or_first_line(repository):
    (repository / "deploy" / "serving.yaml").write_text("engine: vllm\nargs: {}\nmodels: []\n")
    (repository / "policies" / "limits.yaml").write_text(POLICY.replace('"model_card.present"', '"`true`"'))
    assert located(repository) == [("limits.max-len", "deploy/serving.yaml", 2, 1)]  # args: (max_model_len is missing)
