from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.dotenv import parse_env_file
from wfgy_rules.providers.env import EnvProvider, value_kind

CANARY = "sk-canary-9f8e7d"
ANTHROPIC_CANARY = "sk-ant-canary-9f8e7d"


def collect(config, environ, tmp_path=None):
    provider = EnvProvider()
    jsonschema.Draft202012Validator(provider.config_schema).validate(config)
    return provider.collect(config, ProviderContext(base_dir=tmp_path or Path.cwd(), environ=environ))


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(EnvProvider.config_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"declard": []}, EnvProvider.config_schema)


def test_full_fact_shape():
    facts = collect(
        {"declared": ["OPENAI_API_KEY", {"name": "LOG_LEVEL", "required": False}]},
        {"LOG_LEVEL": "info", "OPEN_API_KEY": CANARY, "PATH": "/usr/bin"},
    )
    assert facts == {
        "names": ["LOG_LEVEL", "OPEN_API_KEY", "PATH"],
        "declared": [
            {"name": "OPENAI_API_KEY", "required": True, "secret": False},
            {"name": "LOG_LEVEL", "required": False, "secret": False},
        ],
        "missing": ["OPENAI_API_KEY"],
        "empty": [],
        "near_misses": [
            {
                "declared": "OPENAI_API_KEY",
                "found": "OPEN_API_KEY",
                "required": True,
                "via": "alias",
            },
        ],
        "values": {},
        "kinds": {"LOG_LEVEL": "other"},
    }


@pytest.mark.parametrize(
    ("declared", "found", "via"),
    [
        ("OPENAI_API_KEY", "OPEN_API_KEY", "alias"),
        ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY", "alias"),
        ("OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION", "alias"),
        ("OPENAI_BASE_URL", "OPENAI_API_BASE", "alias"),
        ("HF_TOKEN", "HUGGINGFACE_TOKEN", "alias"),
        ("HF_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "alias"),
        ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "alias"),
        ("ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "alias"),
        ("OPENAI_BASE_URL", "OPENAI_API_BASE", "alias"),
        ("OPENAI_API_BASE", "OPENAI_BASE_URL", "alias"),  # a legacy name declared
        ("MODEL_NAME", "MODEL_NAEM", "similar"),
        ("OPENAI_API_KEY", "openai_api_key", "similar"),
    ],
)
def test_near_miss(declared, found, via):
    facts = collect({"declared": [declared]}, {found: CANARY})
    assert facts["near_misses"] == [
        {"declared": declared, "found": found, "required": True, "via": via}
    ]


@pytest.mark.parametrize(
    ("declared", "set_name"),
    [
        ("AZURE_OPENAI_API_KEY", "CLAUDE_API_KEY"),  # ratio 0.65: below the cutoff
        ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"),  # 0.82, but a real SDK name of its own
        ("HF_TOKEN", "HF_HOME"),
    ],
)
def test_no_near_miss(declared, set_name):
    assert collect({"declared": [declared]}, {set_name: "x"})["near_misses"] == []


def test_near_misses_also_cover_unset_optional_names_and_skip_set_declared_names():
    facts = collect(
        {"declared": [{"name": "OPENAI_BASE_URL", "required": False}, "OPENAI_API_KEY"]},
        {"OPENAI_API_BASE": "https://example.test/v1", "OPENAI_API_KEY": "", "OPEN_API_KEY": "x"},
    )
    assert facts["missing"] == []
    assert facts["empty"] == ["OPENAI_API_KEY"]
    miss = {"declared": "OPENAI_BASE_URL", "found": "OPENAI_API_BASE", "required": False}
    assert facts["near_misses"] == [{**miss, "via": "alias"}]


def test_declared_name_set_is_never_proposed_for_another():
    facts = collect({"declared": ["OPENAI_API_KEY", "OPEN_API_KEY"]}, {"OPEN_API_KEY": "x"})
    assert facts["near_misses"] == []


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("sk-proj-abc123", "openai_key"),
        ("sk-abc123", "openai_key"),
        ("sk-ant-api03-abc", "anthropic_key"),
        ("hf_abcdef", "hf_token"),
        ("https://api.openai.com/v1", "url"),
        ("  \t", "empty"),
        ("", "empty"),
        ("info", "other"),
    ],
)
def test_value_kind(value, kind):
    assert value_kind(value) == kind


def test_anthropic_key_in_openai_variable():
    facts = collect({"declared": ["OPENAI_API_KEY"]}, {"OPENAI_API_KEY": ANTHROPIC_CANARY})
    assert facts["kinds"] == {"OPENAI_API_KEY": "anthropic_key"}
    assert ANTHROPIC_CANARY not in json.dumps(facts)


def test_detect_kinds_off():
    facts = collect({"declared": ["A"], "detect_kinds": False}, {"A": "sk-x"})
    assert facts["kinds"] == {}


def test_expose_gives_values_and_null_for_unset():
    facts = collect({"expose": ["LOG_LEVEL", "REGION"]}, {"LOG_LEVEL": "debug"})
    assert facts["values"] == {"LOG_LEVEL": "debug", "REGION": None}


@pytest.mark.parametrize(
    ("config", "environ", "name"),
    [
        ({"declared": [{"name": "DB_URL", "secret": True}], "expose": ["DB_URL"]}, {}, "DB_URL"),
        ({"expose": ["OPENAI_API_KEY"]}, {"OPENAI_API_KEY": CANARY}, "OPENAI_API_KEY"),
        ({"expose": ["HF_TOKEN"]}, {}, "HF_TOKEN"),
        ({"expose": ["APP_SECRET"]}, {}, "APP_SECRET"),
        ({"expose": ["db_password"]}, {}, "db_password"),
        ({"expose": ["GREETING"]}, {"GREETING": CANARY}, "GREETING"),  # value looks like a key
        ({"expose": ["DB_URL"]}, {"DB_URL": f"postgres://app:{CANARY}@db/app"}, "DB_URL"),
        ({"expose": ["AUTH_HEADER"]}, {"AUTH_HEADER": f"Bearer {CANARY}"}, "AUTH_HEADER"),  # a key inside the value
    ],
)
def test_exposing_a_secret_is_refused(config, environ, name):
    with pytest.raises(ProviderError) as caught:
        collect(config, environ)
    assert str(caught.value) == f"refusing to expose secret variable {name}"
    assert CANARY not in str(caught.value)


def test_values_that_merely_mention_a_prefix_are_still_exposed():
    facts = collect({"expose": ["TASK"]}, {"TASK": "ask-me hf_ happens"})
    assert facts["values"] == {"TASK": "ask-me hf_ happens"}


def test_declared_file_convention(tmp_path):
    (tmp_path / ".env.example").write_text(
        "# LLM service\n"
        "\n"
        "OPENAI_API_KEY=          # secret\n"
        "OPENAI_BASE_URL=https://api.openai.com/v1   # optional\n"
        "export HF_TOKEN=         # secret, optional - only for gated models\n"
        "LOG_LEVEL=info # the log level, not optional\n"
        'GREETING="hi # there"\n'
        "BARE\n"
        'PEM="-----BEGIN KEY-----\n'
        "abc\n"
        '-----END KEY-----"\n'
    )
    facts = collect({"declared": ".env.example"}, {}, tmp_path)
    assert facts["declared"] == [
        {"name": "OPENAI_API_KEY", "required": True, "secret": True},
        {"name": "OPENAI_BASE_URL", "required": False, "secret": False},
        {"name": "HF_TOKEN", "required": False, "secret": True},
        {"name": "LOG_LEVEL", "required": True, "secret": False},
        {"name": "GREETING", "required": True, "secret": False},
        {"name": "BARE", "required": True, "secret": False},
        {"name": "PEM", "required": True, "secret": False},
    ]
    assert facts["missing"] == ["BARE", "GREETING", "LOG_LEVEL", "OPENAI_API_KEY", "PEM"]


def test_env_file_entries_know_emptiness_but_not_values(tmp_path):
    path = tmp_path / ".env"
    path.write_text(
        f"A={CANARY}\nB=\nC='  '\nD=\"{CANARY}\" # secret\nE= # {CANARY}\n"
        f'F="\n  \n"\nG="\n{CANARY}\n"\n'
    )
    entries = parse_env_file(path)
    assert [(e.name, e.has_value, e.secret, e.line) for e in entries] == [
        ("A", True, False, 1),
        ("B", False, False, 2),
        ("C", False, False, 3),
        ("D", True, True, 4),
        ("E", False, False, 5),
        ("F", False, False, 6),
        ("G", True, False, 9),
    ]
    assert CANARY not in repr(entries)


def test_malformed_declared_file_names_file_and_line_without_text(tmp_path):
    (tmp_path / ".env.example").write_text(f"A=\nnot an entry {CANARY}\n")
    with pytest.raises(ProviderError) as caught:
        collect({"declared": ".env.example"}, {}, tmp_path)
    assert str(caught.value) == f"{tmp_path / '.env.example'}:2: expected NAME=value"


def test_missing_declared_file(tmp_path):
    with pytest.raises(ProviderError, match=r"\.env\.example: file not found$"):
        collect({"declared": ".env.example"}, {}, tmp_path)


def test_later_declaration_wins():
    facts = collect({"declared": ["A", {"name": "A", "required": False}]}, {})
    assert facts["declared"] == [{"name": "A", "required": False, "secret": False}]
    assert facts["missing"] == []


def test_canary_never_appears_in_facts(tmp_path):
    (tmp_path / ".env.example").write_text(f"OPENAI_API_KEY={CANARY}  # secret\nLOG_LEVEL=\n")
    environ = {
        "OPENAI_API_KEY": CANARY,
        "OPEN_API_KEY": CANARY,
        "LOG_LEVEL": "info",
        "OTHER": CANARY,
    }
    facts = collect({"declared": ".env.example", "expose": ["LOG_LEVEL"]}, environ, tmp_path)
    assert CANARY not in json.dumps(facts)
    assert facts["values"] == {"LOG_LEVEL": "info"}
    assert facts["kinds"] == {"OPENAI_API_KEY": "openai_key", "LOG_LEVEL": "other"}


def test_unterminated_quoted_value(tmp_path):
    path = tmp_path / ".env"
    path.write_text(f'A=1\nB="{CANARY}\n')
    with pytest.raises(ProviderError) as caught:
        parse_env_file(path)
    assert str(caught.value) == f"{path}:2: unterminated quoted value"
