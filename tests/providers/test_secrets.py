from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.env.secrets import SecretsProvider

CANARY = "sk-canary-9f8e7d"


def collect(config, tmp_path, environ=None):
    provider = SecretsProvider()
    jsonschema.Draft202012Validator(provider.config_schema).validate(config)
    facts = provider.collect(config, ProviderContext(base_dir=tmp_path, environ=environ or {}))
    assert CANARY not in json.dumps(facts)
    return facts


def kubernetes_volume(root, secrets):
    """The layout kubelet writes: NAME -> ..data/NAME, ..data -> ..<timestamp>/."""
    root.mkdir()
    stamped = root / "..2026_01_01_00_00_00.000000001"
    stamped.mkdir()
    for name, value in secrets.items():
        (stamped / name).write_text(value)
    (root / "..data").symlink_to(stamped.name)
    for name in secrets:
        (root / name).symlink_to(f"..data/{name}")
    return root


def test_schema():
    jsonschema.Draft202012Validator.check_schema(SecretsProvider.config_schema)
    for bad in (
        {"sources": [{"type": "dir"}]},
        {"sources": [{"type": "env", "path": "/x"}]},
        {"sources": [{"type": "vault"}]},
        {"required": ["../etc/passwd"]},
        {"required": ["..data"]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SecretsProvider.config_schema)


def test_default_source_is_env(tmp_path):
    facts = collect(
        {"required": ["OPENAI_API_KEY", "HF_TOKEN", "DB_PASSWORD"]},
        tmp_path,
        {"OPENAI_API_KEY": CANARY, "HF_TOKEN": "  ", "OPEN_API_KEY": CANARY},
    )
    assert facts == {
        "required": ["OPENAI_API_KEY", "HF_TOKEN", "DB_PASSWORD"],
        "present": {"OPENAI_API_KEY": {"source": "env"}},
        "missing": ["DB_PASSWORD", "HF_TOKEN"],
        "empty": ["HF_TOKEN"],
        "sources": ["env"],
        "source_errors": [],
    }


def test_kubernetes_secret_volume(tmp_path):
    kubernetes_volume(tmp_path / "app", {"OPENAI_API_KEY": CANARY, "HF_TOKEN": ""})
    facts = collect(
        {"required": ["OPENAI_API_KEY", "HF_TOKEN"], "sources": [{"type": "dir", "path": "app"}]},
        tmp_path,
    )
    assert facts["present"] == {"OPENAI_API_KEY": {"source": "dir:app"}}
    assert facts["missing"] == ["HF_TOKEN"]
    assert facts["empty"] == ["HF_TOKEN"]
    assert facts["source_errors"] == []


def test_sources_in_order_first_wins(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "A").write_text(CANARY)
    (tmp_path / "run" / "B").write_text(" \n\t ")
    (tmp_path / ".env").write_text(f"B={CANARY}\nC=\n")
    sources = [{"type": "env"}, {"type": "dir", "path": "run"}, {"type": "dotenv", "path": ".env"}]
    facts = collect({"required": ["A", "B", "C"], "sources": sources}, tmp_path, {"A": CANARY})
    assert facts["present"] == {"A": {"source": "env"}, "B": {"source": "dotenv:.env"}}
    assert facts["missing"] == ["C"]
    assert facts["empty"] == ["C"]
    assert facts["sources"] == ["env", "dir:run", "dotenv:.env"]


def test_whitespace_only_file_larger_than_one_read_is_empty(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "A").write_text(" " * 10_000 + "\n")
    (tmp_path / "s" / "B").write_text(" " * 10_000 + CANARY)
    facts = collect({"required": ["A", "B"], "sources": [{"type": "dir", "path": "s"}]}, tmp_path)
    assert facts["missing"] == ["A"]
    assert facts["present"] == {"B": {"source": "dir:s"}}


def test_secret_appearing_between_collects_is_picked_up(tmp_path):
    (tmp_path / "vault").mkdir()
    config = {"required": ["OPENAI_API_KEY"], "sources": [{"type": "dir", "path": "vault"}]}
    provider = SecretsProvider()
    ctx = ProviderContext(base_dir=tmp_path, environ={})
    assert provider.collect(config, ctx)["missing"] == ["OPENAI_API_KEY"]
    (tmp_path / "vault" / "OPENAI_API_KEY").write_text(CANARY)
    second = provider.collect(config, ctx)
    assert second["missing"] == []
    assert second["present"] == {"OPENAI_API_KEY": {"source": "dir:vault"}}
    assert CANARY not in json.dumps(second)


def test_source_errors_never_hide_other_sources(tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "A").mkdir()  # a directory where a file should be
    (secrets / "B").symlink_to("..data/B")  # dangling, as during a volume update
    (secrets / "C").write_text(CANARY)
    (tmp_path / "bad.env").write_text(f"C={CANARY}\n{CANARY} oops\n")
    sources = [
        {"type": "dir", "path": "nowhere"},
        {"type": "dir", "path": "secrets"},
        {"type": "dotenv", "path": "bad.env"},
        {"type": "dotenv", "path": "absent.env"},
        {"type": "env"},
    ]
    facts = collect({"required": ["A", "B", "C"], "sources": sources}, tmp_path, {"A": CANARY})
    assert facts["present"] == {"A": {"source": "env"}, "C": {"source": "dir:secrets"}}
    assert facts["missing"] == ["B"]
    assert facts["source_errors"] == [
        {"source": "dir:nowhere", "message": "directory not found"},
        {"source": "dir:secrets", "message": "A: is a directory, not a file"},
        {"source": "dir:secrets", "message": "B: broken symbolic link"},
        {"source": "dotenv:bad.env", "message": f"{tmp_path / 'bad.env'}:2: expected NAME=value"},
        {"source": "dotenv:absent.env", "message": f"{tmp_path / 'absent.env'}: file not found"},
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of their mode")
def test_unreadable_file_is_a_source_error(tmp_path):
    (tmp_path / "s").mkdir()
    secret = tmp_path / "s" / "A"
    secret.write_text(CANARY)
    secret.chmod(0)
    facts = collect({"required": ["A"], "sources": [{"type": "dir", "path": "s"}]}, tmp_path)
    assert facts["missing"] == ["A"]
    error = {"source": "dir:s", "message": "A: cannot read: permission denied"}
    assert facts["source_errors"] == [error]


def test_read_error_is_a_source_error_even_as_root(tmp_path, monkeypatch):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "A").write_text(CANARY)

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    facts = collect({"required": ["A"], "sources": [{"type": "dir", "path": "s"}]}, tmp_path)
    error = {"source": "dir:s", "message": "A: cannot read: permission denied"}
    assert facts["source_errors"] == [error]


def test_fifo_is_not_a_secret_file(tmp_path):
    (tmp_path / "s").mkdir()
    os.mkfifo(tmp_path / "s" / "A")
    facts = collect({"required": ["A"], "sources": [{"type": "dir", "path": "s"}]}, tmp_path)
    assert facts["source_errors"] == [{"source": "dir:s", "message": "A: not a regular file"}]


def test_path_that_is_a_file_not_a_directory(tmp_path):
    (tmp_path / "f").write_text(CANARY)
    facts = collect({"required": ["A"], "sources": [{"type": "dir", "path": "f"}]}, tmp_path)
    assert facts["source_errors"] == [{"source": "dir:f", "message": "not a directory"}]


def test_absolute_dir_path_is_reported_as_configured(tmp_path):
    (tmp_path / "A").write_text(CANARY)
    source = {"type": "dir", "path": str(tmp_path)}
    facts = collect({"required": ["A"], "sources": [source]}, tmp_path / "elsewhere")
    assert facts["present"] == {"A": {"source": f"dir:{tmp_path}"}}


def test_duplicate_required_names_are_listed_once(tmp_path):
    facts = collect({"required": ["A", "A"]}, tmp_path, {"A": CANARY})
    assert facts["required"] == ["A"]
