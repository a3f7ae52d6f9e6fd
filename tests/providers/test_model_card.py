"""The model_card provider, its schema, and the card written by `modelcard_lock`."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.helpers import run_cli
from wfgy_rules.errors import ProviderError, UsageError
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.model.hfmodel import describe_model_dir
from wfgy_rules.providers.model.model_card import ModelCardProvider
from wfgy_rules.providers.model.model_card_lock import (
    NothingToLock,
    Unfingerprinted,
    build_model_card,
    write_model_card,
)
from wfgy_rules.providers.runtime import RuntimeProvider
from wfgy_rules.resources import resource_path

CARD = {
    "model": "acme/support-bot-8b",
    "tokenizer_sha": "ad4c1b9",
    "torch": "2.3.1+cu121",
    "transformers": "4.44.2",
    "tokenizers": "0.19.1",
    "cuda": "12.1",
    "requires_gpu": True,
    "min_gpu_memory_gib": 24,
    "vocab_size": 128256,
    "custom": {"owner": "ml-platform"},  # a team's own keys
}


def collect(base_dir: Path, **config) -> dict:
    return ModelCardProvider().collect(config, ProviderContext(base_dir=base_dir, environ={}))


def test_an_absent_card_is_a_fact(tmp_path):
    assert collect(tmp_path) == {"present": False, "path": "model-card.json", "declared": None}


def test_the_card_is_declared(tmp_path):
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "card.json").write_text(json.dumps(CARD, indent=2), encoding="utf-8")
    assert collect(tmp_path, path="deploy/card.json") == {"present": True, "path": "deploy/card.json", "declared": CARD}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{\n  "model": "acme/bot",\n  "torch": 2.1\n}\n', ":3:12: torch: expected string, got 2.1 (number)"),
        ('{\n  "tokenizer_sha": "not-a-sha"\n}\n', ':2:20: tokenizer_sha: "not-a-sha" (string) does not match ^[0-9a-fA-F]{7,64}$'),
        ('{"requires_gpu": "yes", "min_gpu_memory_gib": -1}', ":1:18: requires_gpu: expected boolean, got \"yes\" (string)"),
        ('["acme/bot"]', ":1:1: expected a mapping (a model-card file), got an array; its content is not shown"),
        ('{\n  "model": "acme/bot"\n  "torch": "2.1"\n}\n', ":3:3: invalid JSON: Expecting ',' delimiter"),
        ('{"model": "acme/bot",}', ":1:22: invalid JSON: "),  # JSON, not YAML: no trailing commas
        ('{"torch": "2.1",\n "torch": "2.3"}', ":2:2: torch: duplicate key 'torch' (first defined at line 1)"),
    ],
    ids=["wrong-type", "bad-sha", "first-of-two-problems", "not-an-object", "syntax-error", "trailing-comma", "duplicate-key"],
)
def test_an_invalid_card_is_a_provider_error(tmp_path, text, message):
    path = tmp_path / "model-card.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProviderError) as caught:
        collect(tmp_path)
    assert str(caught.value).startswith(f"{path}{message}")


def test_the_card_is_read_as_json(tmp_path):
    (tmp_path / "model-card.json").write_text('{"min_gpu_memory_gib": 2.4e1, "cuda": "12.1"}', encoding="utf-8")
    assert collect(tmp_path)["declared"] == {"min_gpu_memory_gib": 24.0, "cuda": "12.1"}  # 2.4e1 is a number in JSON


def test_every_problem_of_the_card_is_reported_on_one_line(tmp_path):
    (tmp_path / "model-card.json").write_text('{"requires_gpu": "yes", "min_gpu_memory_gib": -1}', encoding="utf-8")
    with pytest.raises(ProviderError) as caught:
        collect(tmp_path)
    assert "\n" not in str(caught.value)
    assert "requires_gpu:" in str(caught.value) and "min_gpu_memory_gib:" in str(caught.value)


def test_the_published_schema():
    schema = json.loads(resource_path("schemas/model-card.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "https://wfgy-rules.dev/schemas/model-card.schema.json"
    assert all(prop.get("title") and prop.get("description") for prop in schema["properties"].values())
    assert Draft202012Validator(schema).is_valid(CARD)


@pytest.mark.usefixtures("no_cuda")
def test_a_built_card_matches_the_runtime_facts_it_came_from(hf_model_dir):
    card = build_model_card(
        hf_model_dir,
        ["tokenizers", "wfgy-no-such-package"],
        "acme/tiny",
        {"CUDA_VERSION": "12.4.1"},
        requires_gpu=True,
        min_gpu_memory_gib=8,
    ).card
    write_model_card(card, hf_model_dir.parent / "model-card.json")
    declared = collect(hf_model_dir.parent)["declared"]
    runtime = RuntimeProvider().collect(
        {"packages": ["tokenizers"], "model_dir": "model"},
        ProviderContext(base_dir=hf_model_dir.parent, environ={"CUDA_VERSION": "12.4.1"}),
    )
    assert declared == card
    assert declared["tokenizer_sha"] == runtime["model_dir"]["tokenizer"]["sha256"]
    assert declared["chat_template_sha"] == runtime["model_dir"]["tokenizer"]["chat_template"]["sha256"]
    assert declared["checkpoint_sha"] == runtime["model_dir"]["checkpoint"]["sha256"]
    assert "pytorch_sha" not in declared and runtime["torch_build"]["git_version"] is None  # no torch here
    assert declared["vocab_size"] == runtime["model_dir"]["config"]["vocab_size"] == 16
    assert declared["tokenizers"] == runtime["packages"]["tokenizers"]
    assert declared["cuda"] == runtime["cuda"]["compiled"] == "12.4"
    assert (declared["model"], declared["requires_gpu"], declared["min_gpu_memory_gib"]) == ("acme/tiny", True, 8)
    assert "wfgy-no-such-package" not in declared  # unknown values are left out, never null
    assert "context_length" not in declared  # this config.json names no length key


@pytest.mark.usefixtures("no_cuda")
def test_a_card_without_a_model_dir_records_only_the_environment():
    with pytest.raises(NothingToLock, match=r"^nothing to lock here \(wfgy-no-such-package: wfgy-no-such-package is not installed here"):
        build_model_card(None, ["wfgy-no-such-package"], None, {})
    locked = build_model_card(None, [], "acme/tiny", {"CUDA_VERSION": "11.8"})
    assert locked.card == {"model": "acme/tiny", "cuda": "11.8"}
    assert locked.unrecorded["tokenizer_sha"] == "no model directory (--model-dir, or providers.runtime.model_dir in wfgy.yaml)"


def test_building_from_a_bad_model_dir_is_a_usage_error(hf_model_dir):
    with pytest.raises(UsageError, match="not a directory"):
        build_model_card(hf_model_dir / "missing", [], None, {})
    (hf_model_dir / "config.json").write_text('{"vocab_size": }', encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        build_model_card(hf_model_dir, [], None, {})
    assert str(caught.value) == f"{hf_model_dir / 'config.json'}:1:16: invalid JSON: Expecting value"


def test_write_model_card_is_stable_and_atomic(tmp_path):
    path = tmp_path / "model-card.json"
    path.write_text("{}\n", encoding="utf-8")
    path.chmod(0o640)
    write_model_card({"torch": "2.3.1", "cuda": "12.1", "model": "acme/ü"}, path)
    assert path.read_text(encoding="utf-8") == '{\n  "cuda": "12.1",\n  "model": "acme/ü",\n  "torch": "2.3.1"\n}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-card.json"]  # no temp file left behind


def test_a_failed_write_keeps_the_old_card(tmp_path, monkeypatch):
    path = tmp_path / "model-card.json"
    path.write_text('{"torch": "2.3.1"}\n', encoding="utf-8")

    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(UsageError) as info:
        write_model_card({"torch": "2.4.0"}, path)
    assert info.value.lines() == [f"{path}: cannot write: No space left on device"]
    assert path.read_text(encoding="utf-8") == '{"torch": "2.3.1"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-card.json"]


CORPUS = Path(__file__).parent / "corpus" / "tokenizers"


@pytest.mark.usefixtures("no_cuda")
def test_a_sentencepiece_only_model_dir_is_fingerprinted(tmp_path):
    (tmp_path / "model").mkdir()
    shutil.copyfile(CORPUS / "mistral" / "mistral_instruct_tokenizer_240323.model.v3", tmp_path / "model" / "tokenizer.model.v3")
    card = build_model_card(tmp_path / "model", [], "mistral/v3", {}).card
    tokenizer = describe_model_dir(tmp_path / "model")["tokenizer"]
    assert card == {"model": "mistral/v3", "tokenizer_sha": tokenizer["sha256"], "files": {"tokenizer": tokenizer["per_file"]}}
    assert list(tokenizer["per_file"]) == ["tokenizer.model.v3"]


@pytest.mark.usefixtures("no_cuda")
@pytest.mark.parametrize(
    ("files", "why"),
    [
        ({"config.json": b'{"vocab_size": 32000}'}, "no tokenizer file to fingerprint (looked for tokenizer.json, tekken.json, "),
        ({"tokenizer.model": b"\x0a\x05\x0a\x03<u", "config.json": b'{"vocab_size": 32000}'}, "cannot fingerprint the tokenizer: tokenizer.model: field 1 at byte 0 claims 5 bytes; 4 are left"),
    ],
    ids=["no-vocabulary-file", "truncated-model"],
)
def test_a_model_dir_that_cannot_be_fingerprinted_is_refused_unless_allowed(tmp_path, files, why):
    directory = tmp_path / "model"
    directory.mkdir()
    for name, content in files.items():
        (directory / name).write_bytes(content)
    with pytest.raises(Unfingerprinted) as caught:
        build_model_card(directory, [], "acme/tiny", {})
    assert str(caught.value).startswith(f"{directory}: {why}")
    assert str(caught.value).endswith("the gate would skip the tokenizer check (--allow-unfingerprinted writes it anyway)")
    assert "tokenizer_sha" not in build_model_card(directory, [], "acme/tiny", {}, allow_unfingerprinted=True).card


def test_lock_exits_2_on_an_unfingerprinted_model_dir_and_never_keeps_stale_fingerprints(tmp_path, hf_model_dir):
    card = hf_model_dir.parent / "model-card.json"
    card.write_text(json.dumps({"model": "acme/tiny", "tokenizer_sha": "ad4c1b9", "chat_template_sha": "41c0a7e", "custom": {"owner": "ml"}}), encoding="utf-8")
    (hf_model_dir / "tokenizer.json").unlink()
    refused = run_cli("lock", "--model-dir", str(hf_model_dir), "--output", str(card), cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "no tokenizer file to fingerprint" in refused.stderr and "Traceback" not in refused.stderr
    assert json.loads(card.read_text(encoding="utf-8"))["tokenizer_sha"] == "ad4c1b9"  # untouched

    write_json = (hf_model_dir / "tokenizer_config.json")
    write_json.write_text(json.dumps({"eos_token": "</s>"}), encoding="utf-8")  # the chat template is gone too
    allowed = run_cli("lock", "--model-dir", str(hf_model_dir), "--output", str(card), "--allow-unfingerprinted", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    written = json.loads(card.read_text(encoding="utf-8"))
    assert "tokenizer_sha" not in written and "chat_template_sha" not in written  # not left stale
    assert (written["model"], written["custom"], len(written["checkpoint_sha"])) == ("acme/tiny", {"owner": "ml"}, 64)
    assert "warning: tokenizer_sha not recorded: no tokenizer file to fingerprint" in allowed.stderr
    assert "warning: chat_template_sha not recorded: no chat template" in allowed.stderr
