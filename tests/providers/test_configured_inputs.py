"""A configured input that is not there, or a Git LFS pointer where a model file should be, is
reported by name through the CLI: never a quiet skip, never "invalid JSON" or an absurd
safetensors header length."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO, run_cli

EXAMPLE_MODEL = REPO / "policies.example" / "model"
# What `git clone` leaves without `git lfs pull`: the pointer, never the file (git-lfs docs/spec.md).
LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 1842767\n"
)
CONFIG = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: [builtin]
providers:
{providers}
"""


def write_config(root: Path, *providers: str) -> Path:
    (root / "wfgy.yaml").write_text(CONFIG.format(providers="\n".join(f"  {line}" for line in providers)))
    return root


def judged(root: Path, *args: str) -> tuple[int, dict[str, list[tuple[str, str]]]]:
    done = run_cli("eval", "--stage", "ci", "--format", "json", *args, cwd=root)
    assert "Traceback" not in done.stderr and done.stdout, done.stderr
    found: dict[str, list[tuple[str, str]]] = {}
    for result in json.loads(done.stdout)["results"]:
        found.setdefault(result["rule_id"], []).append((result["status"], result["message"]))
    return done.returncode, found


def test_a_missing_model_dir_fails_once_with_its_path(tmp_path):
    (tmp_path / "model-card.json").write_text(json.dumps({"model": "acme/llm", "tokenizer_sha": "ad4c1b9"}))
    write_config(tmp_path, "model_card: {path: model-card.json}", "runtime: {model_dir: ./models}")
    code, found = judged(tmp_path)
    assert code == 1
    assert found["semvers.model-dir-found"] == [("fail", "model_dir ./models does not exist (relative to wfgy.yaml)")]
    assert found["semvers.tokenizer-sha"][0][0] == "skip"  # no "runtime tokenizer-sha = null (null: )"


def test_a_model_dir_that_is_there_passes(tmp_path):
    shutil.copytree(EXAMPLE_MODEL, tmp_path / "model")
    write_config(tmp_path, "runtime: {model_dir: ./model}")
    code, found = judged(tmp_path)
    assert code == 0 and found["semvers.model-dir-found"] == [("pass", "")]


@pytest.fixture
def lfs_model(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE_MODEL, tmp_path / "model")
    write_config(tmp_path, "runtime: {model_dir: ./model}")
    return tmp_path


@pytest.mark.parametrize(
    ("pointer", "rule"),
    [
        ("tokenizer.json", "semvers.tokenizer-readable"),
        ("tokenizer_config.json", "semvers.tokenizer-readable"),
        ("config.json", "semvers.model-files-readable"),
        ("model.safetensors", "semvers.model-files-readable"),
    ],
)
def test_a_git_lfs_pointer_is_named_as_one(lfs_model, pointer, rule):
    (lfs_model / "model" / pointer).write_text(LFS_POINTER)
    code, found = judged(lfs_model)
    assert code == 1
    [(status, message)] = found[rule]
    assert status == "fail"
    assert message.endswith(f"{pointer} is a Git LFS pointer: run `git lfs pull`, or mount the real files"), message
    assert "invalid JSON" not in message and "bytes is over the" not in message


def test_lock_refuses_a_git_lfs_tokenizer_by_name(lfs_model):
    (lfs_model / "model" / "tokenizer.json").write_text(LFS_POINTER)
    done = run_cli("lock", "--output", "card.json", cwd=lfs_model)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "tokenizer.json is a Git LFS pointer: run `git lfs pull`, or mount the real files" in done.stderr
    assert not (lfs_model / "card.json").exists()


def test_a_configured_model_card_that_is_not_there_is_an_error_of_its_rules(tmp_path):
    shutil.copytree(EXAMPLE_MODEL, tmp_path / "model")
    write_config(tmp_path, "model_card: {path: deploy/model-card.json}", "runtime: {model_dir: ./model}")
    code, found = judged(tmp_path)
    assert code == 1
    expected = "provider 'model_card' failed: model_card path deploy/model-card.json does not exist (relative to wfgy.yaml); write it with `wfgy-rules lock`"
    assert found["semvers.tokenizer-sha"] == [("error", expected)]
    assert found["semvers.tokenizer-readable"] == [("pass", "")]  # rules that do not read the card keep their results


def test_a_model_card_left_to_its_default_may_be_absent(tmp_path):
    shutil.copytree(EXAMPLE_MODEL, tmp_path / "model")
    write_config(tmp_path, "runtime: {model_dir: ./model}")
    code, found = judged(tmp_path)
    assert code == 0 and found["semvers.tokenizer-sha"][0][0] == "skip"


def test_prompt_globs_that_match_nothing_are_named(tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "support.jinja").write_text("Hello {{ name | default('you') }}\n")
    write_config(tmp_path, 'prompts: {paths: ["prompts/**/*.jinja", "promts/**/*"]}')
    code, found = judged(tmp_path, "--only", "prompt.*")
    assert code == 1
    assert found["prompt.syntax-error"] == [("fail", "prompts path promts/**/* matches no file (relative to wfgy.yaml)")]
    assert found["prompt.undeclared-placeholder"] == [("pass", "")]  # the file that matched is still judged


def test_default_prompt_globs_may_match_nothing(tmp_path):
    write_config(tmp_path, "runtime: {}")
    code, found = judged(tmp_path, "--only", "prompt.*")
    assert code == 0 and found["prompt.syntax-error"] == [("pass", "")]


def test_manifest_globs_that_match_nothing_are_named(tmp_path):
    (tmp_path / "deploy").mkdir()
    write_config(tmp_path, 'kubernetes: {paths: ["deploy/**/*.yaml", "k8s/llm.yaml"]}')
    code, found = judged(tmp_path, "--only", "k8s.*")
    assert code == 1
    assert sorted(found["k8s.manifests-readable"]) == [
        ("fail", "kubernetes path deploy/**/*.yaml matches no file (relative to wfgy.yaml)"),
        ("fail", "kubernetes path k8s/llm.yaml does not exist (relative to wfgy.yaml)"),
    ]
