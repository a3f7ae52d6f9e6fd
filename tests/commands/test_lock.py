"""`wfgy-rules lock` through the CLI: it says what it could not record and why, records the
serving engine and the model's context length, refuses to write a card that pins nothing,
and the README's policy example runs on the context length it writes.

An "image" is the runner's Python with installed packages added to its path
(`tests.installed_packages`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO, run_cli
from tests.installed_packages import install, install_torch

EXAMPLE_MODEL = REPO / "policies.example" / "model"  # config.json: max_position_embeddings 4096
CONFIG = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: [./policies]
providers:
  model_card: {path: model-card.json}
  runtime: {packages: [torch, transformers, tokenizers]MODEL_DIR}
  file: {files: {serving: deploy/serving.yaml}}
"""
# The README's "write the policy" example, as printed there.
README_POLICY = """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: serving-limits, owner: ml-platform}
rules:
  - id: team.max-len-fits-context
    title: max_model_len fits the context
    severity: high
    stage: any
    facts: [file, model_card]
    when: "model_card.present"
    assert:
      key: file.serving.max_model_len
      op: le
      value_from: model_card.declared.context_length
    message: "max_model_len {{ file.serving.max_model_len }} exceeds {{ model_card.declared.context_length }}"
    remedy: {action: abort, hint: Lower max_model_len in deploy/serving.yaml.}
"""


def project(root: Path, model_dir: bool = True) -> Path:
    root.mkdir(exist_ok=True)
    if model_dir:
        shutil.copytree(EXAMPLE_MODEL, root / "model")
    (root / "wfgy.yaml").write_text(CONFIG.replace("MODEL_DIR", ", model_dir: ./model" if model_dir else ""))
    (root / "policies").mkdir()
    (root / "policies" / "serving-limits.yaml").write_text(README_POLICY)
    (root / "deploy").mkdir()
    (root / "deploy" / "serving.yaml").write_text("max_model_len: 8192\n")
    return root


def test_lock_outside_the_image_warns_for_every_field_it_cannot_record(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VERSION", raising=False)
    root = project(tmp_path / "repo")
    done = run_cli("lock", "--model", "acme/support-llm-7b", cwd=root)
    assert done.returncode == 0, done.stderr
    card = json.loads((root / "model-card.json").read_text())
    assert card["context_length"] == 4096 and "torch" not in card and None not in card.values()
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert "warning: torch, pytorch_sha not recorded: torch is not installed here" in warnings
    assert "warning: serving engine not recorded: none of vllm, sglang, text-generation-server is installed here" in warnings
    assert any(line.startswith("warning: cuda not recorded: ") for line in warnings) or "cuda" in card
    assert done.stderr.rstrip().splitlines()[-1].startswith("hint: lock records what is installed where it runs; run it in the image")


def test_lock_in_the_image_records_the_serving_engine_and_torch(tmp_path):
    root = project(tmp_path / "repo")
    site = install_torch(install(tmp_path / "site", "vllm", "0.6.3.post1"), "2.4.0+cu121", "12.1", "ee1b6804381c57161c477caa380a840a84167676")
    done = run_cli("lock", cwd=root, env={"PYTHONPATH": str(site)})
    assert done.returncode == 0, done.stderr
    card = json.loads((root / "model-card.json").read_text())
    assert (card["vllm"], card["torch"], card["cuda"], card["pytorch_sha"]) == ("0.6.3.post1", "2.4.0+cu121", "12.1", "ee1b6804381c57161c477caa380a840a84167676")
    assert "not recorded" not in done.stderr and "hint:" not in done.stderr
    assert run_cli("validate", "model-card.json", cwd=root).returncode == 0  # the strict card schema knows every key


def test_tgi_is_recorded_by_its_server_package(tmp_path):
    root = project(tmp_path / "repo")
    done = run_cli("lock", cwd=root, env={"PYTHONPATH": str(install(tmp_path / "site", "text-generation-server", "2.4.1"))})
    assert done.returncode == 0, done.stderr
    assert json.loads((root / "model-card.json").read_text())["text-generation-server"] == "2.4.1"


def test_a_package_the_card_has_no_key_for_is_said_not_written(tmp_path):
    root = project(tmp_path / "repo")
    (root / "wfgy.yaml").write_text((root / "wfgy.yaml").read_text().replace("tokenizers]", "tokenizers, PyYAML]"))
    done = run_cli("lock", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "PyYAML" not in json.loads((root / "model-card.json").read_text())
    assert "warning: PyYAML not recorded: PyYAML " in done.stderr and "the model card has no key for it" in done.stderr


@pytest.mark.skipif(Path("/usr/local/cuda/version.json").exists(), reason="this host has a CUDA toolkit: lock records its CUDA")
def test_lock_with_nothing_to_record_exits_2_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VERSION", raising=False)
    root = project(tmp_path / "repo", model_dir=False)
    (root / "wfgy.yaml").write_text((root / "wfgy.yaml").read_text().replace("[torch, transformers, tokenizers]", "[torch]"))
    done = run_cli("lock", "--model", "acme/llm", "--requires-gpu", cwd=root)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: nothing to lock here (torch: torch is not installed here; serving engine: none of vllm, ")
    assert "tokenizer_sha: no model directory (--model-dir, or providers.runtime.model_dir in wfgy.yaml)" in done.stderr
    assert not (root / "model-card.json").exists()


def test_the_readme_policy_judges_the_context_length_lock_writes(tmp_path):
    root = project(tmp_path / "repo")
    assert run_cli("lock", cwd=root).returncode == 0
    done = run_cli("eval", "--format", "json", cwd=root)
    [result] = json.loads(done.stdout)["results"]
    assert (done.returncode, result["status"], result["message"]) == (1, "fail", "max_model_len 8192 exceeds 4096")
    (root / "deploy" / "serving.yaml").write_text("max_model_len: 4096\n")
    assert run_cli("eval", cwd=root).returncode == 0
