"""Drift you can act on, through the CLI: ``lock`` records what each file behind a fingerprint
held; a fingerprint that no longer matches names the file, the key and both values, in
``eval``, ``diff`` and ``diff --facts OLD --facts NEW`` alike; a card locked before keeps the
whole-fingerprint check and says to re-lock."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from tests.helpers import REPO, run_cli

CONFIG = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: [builtin]
providers:
  model_card: {path: model-card.json}
  runtime: {packages: [], model_dir: ./model}
"""
FINGERPRINT_RULES = ("--only", "semvers.*-sha")


@pytest.fixture
def locked(tmp_path: Path) -> Path:
    """A project whose card `lock` wrote from the example model directory, with add_eos_token false."""
    shutil.copytree(REPO / "policies.example" / "model", tmp_path / "model")
    (tmp_path / "wfgy.yaml").write_text(CONFIG)
    _edit_json(tmp_path / "model" / "tokenizer_config.json", add_eos_token=False)
    done = run_cli("lock", "--model", "acme/bot", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("wrote model-card.json (") and "files=6 file records" in done.stderr.splitlines()[0]
    assert run_cli("validate", "model-card.json", cwd=tmp_path).returncode == 0  # the strict card schema knows `files`
    return tmp_path


def _edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, indent=2))


def _messages(project: Path) -> dict[str, str]:
    done = run_cli("eval", "--format", "json", *FINGERPRINT_RULES, cwd=project)
    return {r["rule_id"]: r["message"] for r in json.loads(done.stdout)["results"] if r["status"] == "fail"}


def _tokenizer_sha(project: Path) -> str:
    return json.loads(run_cli("facts", "--provider", "runtime", cwd=project).stdout)["runtime"]["model_dir"]["tokenizer"]["sha256"]


def test_a_changed_tokenizer_setting_is_named_with_both_values(locked):
    assert _messages(locked) == {}
    _edit_json(locked / "model" / "tokenizer_config.json", add_eos_token=True)
    message = _messages(locked)["semvers.tokenizer-sha"]
    assert message.endswith(f"runtime tokenizer-sha = {_tokenizer_sha(locked)}: tokenizer_config.json: add_eos_token false → true")
    text = run_cli("eval", *FINGERPRINT_RULES, cwd=locked).stdout
    assert "tokenizer_config.json: add_eos_token false → true" in text


def test_a_chat_template_edit_counts_and_places_the_lines(locked):
    config = locked / "model" / "tokenizer_config.json"
    template = json.loads(config.read_text())["chat_template"]
    _edit_json(config, chat_template=template.replace("{{ message['content'] }}", "{{ message['content'] | trim }}"))
    message = _messages(locked)["semvers.chat-template-sha"]
    assert message.endswith("(from tokenizer_config.json): chat_template: 1 line changed (line 2)")
    assert "semvers.tokenizer-sha" not in _messages(locked)  # the template has its own fingerprint


def test_a_swapped_checkpoint_names_the_file_and_the_config_keys(locked):
    model = locked / "model"
    header = json.dumps({"model.embed_tokens.weight": {"dtype": "F16", "shape": [256, 8], "data_offsets": [0, 4096]}}).encode()
    (model / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(4096))
    _edit_json(model / "config.json", vocab_size=256)
    message = _messages(locked)["semvers.checkpoint-sha"]
    assert message.endswith(": model.safetensors changed; config.json: vocab_size 128 → 256")


def test_diff_names_the_same_change_and_so_do_two_bundles(locked, tmp_path):
    old = tmp_path / "old.json"
    assert run_cli("facts", "--output", str(old), cwd=locked).returncode == 0
    _edit_json(locked / "model" / "tokenizer_config.json", add_eos_token=True)
    _edit_json(locked / "model" / "generation_config.json", eos_token_id=[2])
    lines = run_cli("diff", cwd=locked).stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if "tokenizer_sha ↔" in line)
    assert lines[row + 1].strip() == "↳ tokenizer_config.json: add_eos_token false → true"
    generation = next(line for line in lines if "generation_config.json" in line)
    assert generation.split() == ["≠", "drifted", "generation_config.json", "recorded", "changed"]
    assert lines[lines.index(generation) + 1].strip() == "↳ generation_config.json: eos_token_id [2, 4] → [2]"
    assert lines[lines.index(generation) - 1] == "model files" and max(map(len, lines)) <= 100
    new = tmp_path / "new.json"
    assert run_cli("facts", "--output", str(new), cwd=locked).returncode == 0
    rows = json.loads(run_cli("diff", "--facts", str(old), "--facts", str(new), "--format", "json", cwd=locked).stdout)["rows"]
    assert [(r["field"], r["note"]) for r in rows] == [
        ("runtime.model_dir.generation_config.eos_token_ids[4]", "gone"),
        ("runtime.model_dir.generation_config.per_file", "generation_config.json: eos_token_id [2, 4] → [2]"),
        ("runtime.model_dir.tokenizer.sha256", "tokenizer_config.json: add_eos_token false → true"),
    ]


def test_a_card_locked_before_keeps_the_whole_fingerprint_check_and_says_to_relock(locked):
    card = locked / "model-card.json"
    data = json.loads(card.read_text())
    del data["files"]
    card.write_text(json.dumps(data))
    _edit_json(locked / "model" / "tokenizer_config.json", add_eos_token=True)
    message = _messages(locked)["semvers.tokenizer-sha"]
    assert message.endswith("(tokenizer.json: tokenizer.json, tokenizer_config.json); the card records no file digests: "
                            "re-run `wfgy-rules lock` to name the file that changes")
    rows = json.loads(run_cli("diff", "--format", "json", cwd=locked).stdout)["rows"]
    tokenizer = next(r for r in rows if r["field"].startswith("tokenizer_sha"))
    assert tokenizer["mark"] == "drifted" and "re-run `wfgy-rules lock`" in tokenizer["note"]
    assert run_cli("lock", cwd=locked).returncode == 0 and _messages(locked) == {}  # one re-lock
