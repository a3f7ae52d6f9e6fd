"""The semantic diff as data: given facts → expected rows (declared vs effective, two bundles)."""

from __future__ import annotations

import pytest

from wfgy_rules.diff.bundles import bundles_diff, flatten
from wfgy_rules.diff.declared import declared_vs_effective
from wfgy_rules.diff.pairings import COMPARISONS, PAIRINGS
from wfgy_rules.model import Bundle

RUNTIME = {"packages": {"torch": "2.3.1+cu121", "transformers": "4.45.0", "tokenizers": "0.19.1", "vllm": "0.6.0"},
           "cuda": {"compiled": "12.1", "source": "torch"},
           "model_dir": {"present": True, "config": {"vocab_size": 128}, "checkpoint": {"embedding_rows": 128},
                         "tokenizer": {"sha256": "ad4c1b9" + "0" * 57}}}
CARD = {"present": True, "path": "model-card.json",
        "declared": {"model": "acme/x", "tokenizer_sha": "ad4c1b9", "torch": "2.3.1", "transformers": "4.44.2",
                     "tokenizers": "0.20.0", "cuda": "12.4", "vocab_size": 128, "requires_gpu": True, "min_gpu_memory_gib": 16}}
NVML = {"available": True, "device_count": 1, "max_memory_total_gib": 15.9}


def rows(bundle: Bundle) -> dict[str, tuple]:
    return {r.field: (r.mark, r.level, r.left, r.right) for r in declared_vs_effective(bundle).rows}


def test_every_model_card_field_is_paired_and_marked():
    found = rows(Bundle({"model_card": CARD, "runtime": RUNTIME, "nvml": NVML}))
    assert found == {
        "tokenizer_sha ↔ runtime.model_dir.tokenizer.sha256": ("equal", None, "ad4c1b9", "ad4c1b9" + "0" * 57),
        "vocab_size ↔ runtime.model_dir.config.vocab_size": ("equal", None, 128, 128),
        "vocab_size ↔ runtime.model_dir.checkpoint.embedding_rows": ("equal", None, 128, 128),
        "torch ↔ runtime.packages.torch": ("equal", None, "2.3.1", "2.3.1+cu121"),
        "transformers ↔ runtime.packages.transformers": ("drifted", "minor", "4.44.2", "4.45.0"),
        "tokenizers ↔ runtime.packages.tokenizers": ("drifted", "minor", "0.20.0", "0.19.1"),
        "cuda ↔ runtime.cuda.compiled": ("drifted", "minor", "12.4", "12.1"),
        "requires_gpu ↔ nvml.device_count": ("equal", None, True, 1),
        "min_gpu_memory_gib ↔ nvml.max_memory_total_gib": ("drifted", None, 16, 15.9),
        "model": ("unpaired", None, "acme/x", None),
        "runtime.packages.vllm": ("extra", None, None, "0.6.0"),
    }


def test_the_pairing_table_names_only_known_comparisons():
    assert {how for _, _, how in PAIRINGS} <= set(COMPARISONS)


@pytest.mark.parametrize("change,field,expected", [
    ({"tokenizer": {"sha256": "9e7f02d" + "0" * 57}}, "tokenizer_sha ↔ runtime.model_dir.tokenizer.sha256", "drifted"),
    ({"tokenizer": {"sha256": None}}, "tokenizer_sha ↔ runtime.model_dir.tokenizer.sha256", "missing"),
    ({"config": {"vocab_size": 130}}, "vocab_size ↔ runtime.model_dir.config.vocab_size", "drifted"),
])
def test_model_dir_drift(change, field, expected):
    runtime = {**RUNTIME, "model_dir": {**RUNTIME["model_dir"], **change}}
    assert rows(Bundle({"model_card": CARD, "runtime": runtime, "nvml": NVML}))[field][0] == expected


def test_a_failed_provider_is_missing_with_its_reason():
    diff = declared_vs_effective(Bundle({"model_card": CARD}, {"runtime": "provider 'runtime' failed: boom"}))
    torch = next(r for r in diff.rows if r.field.startswith("torch"))
    assert (torch.mark, torch.note) == ("missing", "provider 'runtime' failed: boom")


def test_env_secrets_and_prompt_variables_by_name_and_kind_only():
    env = {"names": ["LOG_LEVEL", "OPEN_API_KEY", "DB_URL"], "empty": ["DB_URL"], "kinds": {"LOG_LEVEL": "other", "DB_URL": "empty"},
           "declared": [{"name": "OPENAI_API_KEY", "required": True, "secret": True}, {"name": "LOG_LEVEL", "required": True, "secret": False},
                        {"name": "DB_URL", "required": True, "secret": False}, {"name": "DEBUG", "required": False, "secret": False}],
           "near_misses": [{"declared": "OPENAI_API_KEY", "found": "OPEN_API_KEY"}], "values": {"LOG_LEVEL": "info"}}
    secrets = {"required": ["HF_TOKEN", "DB_PASSWORD", "X"], "present": {"HF_TOKEN": {"source": "dir:/run/secrets"}}, "empty": ["DB_PASSWORD"], "missing": ["DB_PASSWORD", "X"]}
    prompts = {"declared": ["tone", "unused"], "undeclared": [{"name": "ticket_id"}],
               "files": [{"path": "p.jinja", "placeholders": [{"name": "tone", "line": 1}, {"name": "ticket_id", "line": 2}, {"name": "lang", "line": 3, "default": True}]}]}
    diff = declared_vs_effective(Bundle({"env": env, "secrets": secrets, "prompts": prompts}))
    got = [(r.section, r.field, r.left, r.right, r.mark, r.note) for r in diff.rows]
    assert got == [
        ("env", "DB_URL", "required", "empty", "drifted", "set but empty"),
        ("env", "OPENAI_API_KEY", "required, secret", None, "missing", "not set; OPEN_API_KEY is set"),
        ("env", "OPEN_API_KEY", None, "set", "extra", "looks like a misspelling of OPENAI_API_KEY"),
        ("env", "LOG_LEVEL", "required", "set (other)", "equal", ""),
        ("env", "DEBUG", "optional", "not set", "equal", "optional"),
        ("secrets", "DB_PASSWORD", "required", "empty", "drifted", "found, but empty"),
        ("secrets", "X", "required", None, "missing", "in no source"),
        ("secrets", "HF_TOKEN", "required", "present (dir:/run/secrets)", "equal", ""),
        ("prompt variables", "unused", "declared", None, "missing", "declared, never used"),
        ("prompt variables", "lang", None, "used", "extra", "p.jinja:3: inline default or template variable"),
        ("prompt variables", "ticket_id", None, "used", "extra", "p.jinja:2: no default, not declared"),
        ("prompt variables", "tone", "declared", "used", "equal", "p.jinja:1"),
    ]
    assert diff.drifted


def test_flatten_names_list_elements_by_their_key_or_as_members():
    facts = {"names": ["A", "B"], "files": [{"path": "a", "n": 1}], "pairs": [{"x": 1}, {"x": 1}], "odd key": {}}
    assert flatten(facts, "p") == {"p.names[A]": "present", "p.names[B]": "present", "p.files[path=a].path": "a",
                                   "p.files[path=a].n": 1, 'p.pairs[{"x":1}]': "present", 'p."odd key"': {}}


def test_two_bundles_per_provider_with_the_same_marks():
    old = Bundle({"runtime": {"packages": {"torch": "2.3.1", "gone": "1.0"}, "python": "3.11.7"}, "env": {"names": ["A"]}})
    new = Bundle({"runtime": {"packages": {"torch": "2.4.0", "new": "1.0"}, "python": "3.11.7"}}, {"env": "provider 'env' failed: x"})
    diff = bundles_diff(old, new, "old.json", "new.json")
    got = [(r.section, r.field, r.left, r.right, r.mark, r.level) for r in diff.rows]
    assert got == [
        ("env", "env", "gathered", "error: provider 'env' failed: x", "drifted", None),
        ("runtime", "runtime.packages.gone", "1.0", None, "missing", None),
        ("runtime", "runtime.packages.new", None, "1.0", "extra", None),
        ("runtime", "runtime.packages.torch", "2.3.1", "2.4.0", "drifted", "minor"),
        ("runtime", "runtime.python", "3.11.7", "3.11.7", "equal", None),
    ]
