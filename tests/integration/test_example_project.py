"""The four guards on the real example project (policies.example/): each catches its collapse
on real files and stays silent on clean ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO, run_cli

EXAMPLE = REPO / "policies.example"
CANARY = "sk-ant-canary-5e1f0c9b7d"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    target = tmp_path / "example"
    shutil.copytree(EXAMPLE, target)
    return target


def statuses(project: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, list[str]]:
    done = run_cli("eval", "--format", "json", *args, cwd=project, env=env)
    assert done.returncode in (0, 1), done.stderr
    found: dict[str, list[str]] = {}
    for result in json.loads(done.stdout)["results"]:
        found.setdefault(result["rule_id"], []).append(result["status"])
    return found


def test_the_demo_catches_the_tokenizer_mismatch_and_aborts():
    done = run_cli("eval", "--config", "policies.example/wfgy.yaml", cwd=REPO)
    assert done.returncode == 1
    assert any(line.startswith("✖ checkpoint ↔ tokenizer ..") and line.split()[-2:] == ["FAIL", "semvers.tokenizer-sha"]
               for line in done.stdout.splitlines())
    assert "• model acme/support-llm-7b tokenizer-sha = " in done.stdout
    assert ": tokenizer_config.json: add_eos_token false → true\n" in done.stdout  # the planted change, named
    assert "prompts/support.jinja:4:25: ticket_id (jinja2) has no default" in done.stdout
    assert done.stdout.rstrip().endswith("→ Aborting deploy (use --force to override)")
    forced = run_cli("eval", "--config", "policies.example/wfgy.yaml", "--force", cwd=REPO)
    assert forced.returncode == 0 and "→ Forced: 2 blocking result(s) overridden by --force" in forced.stdout


def test_a_locked_card_and_a_fixed_prompt_make_the_gate_pass(example):
    assert run_cli("lock", cwd=example).returncode == 0
    prompt = example / "prompts" / "support.jinja"
    prompt.write_text(prompt.read_text().replace("{{ ticket_id }}", "{{ ticket_id | default('unknown') }}"))
    found = statuses(example)
    assert found["semvers.tokenizer-sha"] == ["pass"] and found["prompt.undeclared-placeholder"] == ["pass"]
    assert run_cli("eval", cwd=example).returncode == 0  # the GPU guard only falls back, never aborts


def test_oversized_tokenizer_is_caught_and_padding_is_not(example):
    config = example / "model" / "config.json"
    data = json.loads(config.read_text())
    tokenizer_ids = json.loads(run_cli("facts", "--provider", "runtime", cwd=example).stdout)["runtime"]["model_dir"]["tokenizer"]["vocab_size"]
    data["vocab_size"] = tokenizer_ids - 2
    config.write_text(json.dumps(data))
    found = statuses(example)
    assert found["semvers.tokenizer-fits-embedding"] == ["fail"]
    assert found["semvers.checkpoint-embedding-rows"] == ["fail"]
    data["vocab_size"] = 128  # the checkpoint's padded embedding: larger than the tokenizer is normal
    config.write_text(json.dumps(data))
    found = statuses(example)
    assert found["semvers.tokenizer-fits-embedding"] == ["pass"] and found["semvers.checkpoint-embedding-rows"] == ["pass"]


def test_a_misspelled_key_name_and_a_wrong_kind_of_key_are_caught(example):
    found = statuses(example, env={"OPEN_API_KEY": "sk-proj-typo"})
    assert found["boot.env-misspelled"] == ["fail"]
    done = run_cli("eval", cwd=example, env={"OPEN_API_KEY": "sk-proj-typo"})
    assert "OPEN_API_KEY is set; did you mean OPENAI_API_KEY?" in done.stdout
    found = statuses(example, env={"OPENAI_API_KEY": CANARY})
    assert found["boot.key-kind"] == ["fail"]
    assert statuses(example, env={"OPENAI_API_KEY": "sk-proj-fine"})["boot.key-kind"] == ["pass"]


def test_a_missing_secret_is_caught_and_no_secret_value_is_ever_shown(example):
    (example / "secrets" / "OPENAI_API_KEY").write_text(CANARY)
    env = {"OPENAI_API_KEY": CANARY, "ANTHROPIC_API_KEY": CANARY, "HF_TOKEN": CANARY}
    outputs = [run_cli(*args, cwd=example, env=env) for args in (("eval",), ("eval", "-f", "json"), ("facts",), ("explain", "boot.key-kind"), ("list",))]
    for done in outputs:
        assert CANARY not in done.stdout + done.stderr
    (example / "secrets" / "OPENAI_API_KEY").unlink()
    found = statuses(example)
    assert found["boot.secrets-present"] == ["fail"]


def test_gpu_guard_falls_back_on_a_host_without_nvidia(example):
    facts = json.loads(run_cli("facts", "--provider", "nvml", cwd=example).stdout)["nvml"]
    if facts["available"]:
        pytest.skip("this host has a working NVIDIA driver")
    done = run_cli("eval", "-f", "json", cwd=example)
    gpu = [r for r in json.loads(done.stdout)["results"] if r["rule_id"] == "cuda.gpu-present"]
    assert [(r["status"], r["action"], r["blocking"]) for r in gpu] == [("fail", "fallback", False)]
    (example / "wfgy.yaml").write_text((example / "wfgy.yaml").read_text().replace("mode: fallback", "mode: abort"))
    gpu = [r for r in json.loads(run_cli("eval", "-f", "json", cwd=example).stdout)["results"] if r["rule_id"] == "cuda.gpu-present"]
    assert [(r["action"], r["blocking"]) for r in gpu] == [("abort", True)]


def test_example_policies_and_their_tests_are_valid():
    assert run_cli("validate", "--config", "policies.example/wfgy.yaml", cwd=REPO).returncode == 0
    done = run_cli("test", "policies.example", cwd=REPO)
    assert done.returncode == 0 and done.stdout.strip().endswith("2 passed, 0 failed")
