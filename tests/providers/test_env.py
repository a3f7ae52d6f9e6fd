from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.helpers import cli_command, run_cli
from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.env import env_tables
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.env.dotenv import parse_env_file
from wfgy_rules.providers.env.env import EnvProvider, value_kind
from wfgy_rules.resources import resource_path

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
                "known": False,
                "readers": [],
            },
        ],
        "values": {},
        "kinds": {"LOG_LEVEL": "other"},
        "keys": [],
    }


@pytest.mark.parametrize(
    ("declared", "found", "via"),
    [
        ("OPENAI_API_KEY", "OPEN_API_KEY", "alias"),
        ("OPENAI_API_KEY", "OPENAI_KEY", "alias"),
        ("OPENAI_API_KEY", "OPENAI_APIKEY", "similar"),
        ("ANTHROPIC_API_KEY", "ANTHROPIC_KEY", "alias"),
        ("ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "alias"),
        ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY", "alias"),
        ("OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION", "alias"),
        ("HF_TOKEN", "HUGGINGFACE_TOKEN", "alias"),
        ("HF_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "alias"),
        ("CUDA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICE", "similar"),
        ("MODEL_NAME", "MODEL_NAEM", "similar"),
        ("OPENAI_API_KEY", "openai_api_key", "similar"),  # names are case-sensitive: nobody reads this one
    ],
)
def test_near_miss_of_a_name_no_tool_reads(declared, found, via):
    facts = collect({"declared": [declared]}, {found: CANARY})
    assert facts["near_misses"] == [
        {"declared": declared, "found": found, "required": True, "via": via, "known": False, "readers": []}
    ]


@pytest.mark.parametrize(
    ("declared", "found", "via", "reader"),
    [
        ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "similar", "nvidia-container-toolkit"),
        ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "alias", "huggingface_hub"),
        ("OPENAI_API_KEY", "OPENAI_API_TYPE", "similar", "openai"),
        ("DEEPSEEK_API_KEY", "DEEPSEEK_API_BASE", "similar", "litellm"),
        ("OPENAI_BASE_URL", "OPENAI_API_BASE", "alias", "litellm"),
        ("OPENAI_API_BASE", "OPENAI_BASE_URL", "alias", "openai"),  # a legacy name declared
        ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "similar", "openai"),
    ],
)
def test_near_miss_of_a_name_a_real_tool_reads_is_marked_known(declared, found, via, reader):
    (miss,) = collect({"declared": [{"name": declared, "required": False}]}, {found: "x"})["near_misses"]
    assert (miss["declared"], miss["found"], miss["via"], miss["known"]) == (declared, found, via, True)
    assert reader in miss["readers"]


def test_an_unknown_misspelling_is_proposed_before_a_known_neighbour():
    environ = {"NVIDIA_VISIBLE_DEVICES": "all", "CUDA_VISIBLE_DEVICE": "0", "HUGGING_FACE_HUB_TOKEN": "x", "HUGGINGFACE_TOKEN": "x"}
    facts = collect({"declared": ["CUDA_VISIBLE_DEVICES", "HF_TOKEN"]}, environ)
    assert [(m["found"], m["known"]) for m in facts["near_misses"]] == [("CUDA_VISIBLE_DEVICE", False), ("HUGGINGFACE_TOKEN", False)]


@pytest.mark.parametrize(
    ("declared", "set_name"),
    [
        ("AZURE_OPENAI_API_KEY", "CLAUDE_API_KEY"),  # ratio 0.65: below the cutoff
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
    assert [(m["declared"], m["found"], m["required"]) for m in facts["near_misses"]] == [("OPENAI_BASE_URL", "OPENAI_API_BASE", False)]


def test_declared_name_set_is_never_proposed_for_another():
    facts = collect({"declared": ["OPENAI_API_KEY", "OPEN_API_KEY"]}, {"OPEN_API_KEY": "x"})
    assert facts["near_misses"] == []


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("sk-proj-abc123", "openai_key"),
        ("sk-abc123", "openai_key"),
        ("sk-ant-api03-abc", "anthropic_key"),
        ("sk-or-v1-abc", "openrouter_key"),
        ("hf_abcdef", "hf_token"),
        ("gsk_abc", "groq_key"),
        ("AIzaSyabc", "google_key"),
        ("xai-abc", "xai_key"),
        ("r8_abc", "replicate_key"),
        ("pplx-abc", "perplexity_key"),
        ("token-abc123", "other"),
        ("user_provided", "other"),
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
    assert facts["keys"] == [
        {"name": "OPENAI_API_KEY", "provider": "openai", "kind": "anthropic_key", "kind_providers": ["anthropic"], "endpoint": "default"}
    ]
    assert ANTHROPIC_CANARY not in json.dumps(facts)


@pytest.mark.parametrize(
    ("environ", "endpoint"),
    [
        ({}, "default"),
        ({"OPENAI_BASE_URL": "  "}, "default"),
        ({"OPENAI_BASE_URL": "https://api.openai.com/v1"}, "official"),
        ({"OPENAI_BASE_URL": "https://API.OPENAI.COM:443/v1/"}, "official"),
        ({"OPENAI_BASE_URL": "http://localhost:8000/v1"}, "custom"),
        ({"OPENAI_API_BASE": "https://api.groq.com/openai/v1"}, "custom"),
        ({"OPENAI_BASE_URL": "https://api.openai.com/v1", "OPENAI_API_BASE": "http://vllm:8000/v1"}, "custom"),
        ({"OPENAI_BASE_URL": "https://api.openai.com.evil.test/v1"}, "custom"),
        ({"OPENAI_BASE_URL": "api.openai.com/v1"}, "custom"),  # no scheme: not the SDK's default
        ({"OPENAI_BASE_URL": "https://[::1/v1"}, "custom"),  # malformed
    ],
)
def test_endpoint_of_a_key_is_reported_as_a_label(environ, endpoint):
    (key,) = collect({}, {"OPENAI_API_KEY": "sk-x", **environ})["keys"]
    assert key["endpoint"] == endpoint


def test_azure_endpoint_hosts_match_by_suffix():
    keys = collect({}, {"AZURE_OPENAI_API_KEY": "x" * 32, "AZURE_OPENAI_ENDPOINT": "https://my-resource.openai.azure.com/"})["keys"]
    assert keys == [{"name": "AZURE_OPENAI_API_KEY", "provider": "azure_openai", "kind": "other", "kind_providers": [], "endpoint": "official"}]


def test_keys_carry_no_value_url_or_host():
    url = f"https://user:{CANARY}@llm-gateway.internal.example/v1"
    facts = collect({"declared": ["OPENAI_API_KEY"]}, {"OPENAI_API_KEY": CANARY, "OPENAI_BASE_URL": url, "HF_TOKEN": "hf_" + "x" * 34})
    dumped = json.dumps(facts)
    for secret in (CANARY, "llm-gateway", "hf_x", "user:"):
        assert secret not in dumped
    assert [(k["name"], k["endpoint"]) for k in facts["keys"]] == [("OPENAI_API_KEY", "custom"), ("HF_TOKEN", "default")]


def test_detect_kinds_off():
    facts = collect({"declared": ["A"], "detect_kinds": False}, {"A": "sk-x", "OPENAI_API_KEY": "sk-ant-x"})
    assert facts["kinds"] == {}
    assert facts["keys"] == []


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
        ({"expose": ["GREETING"]}, {"GREETING": "gsk_" + CANARY}, "GREETING"),  # every key shape of the table
        ({"expose": ["GREETING"]}, {"GREETING": "Bearer pplx-" + CANARY}, "GREETING"),
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


def test_a_secret_the_secrets_provider_requires_is_judged_there_alone():
    declared = ["OPENAI_API_KEY", "DB_PASSWORD", "LOG_LEVEL", "REGION"]
    environ = {"DB_PASSWORD": " ", "REGION": "", "OPEN_API_KEY": "x"}
    ctx = ProviderContext(environ=environ, secret_names=frozenset({"OPENAI_API_KEY", "DB_PASSWORD"}))
    facts = EnvProvider().collect({"declared": declared}, ctx)
    assert (facts["missing"], facts["empty"]) == (["LOG_LEVEL"], ["REGION"])
    assert [d["name"] for d in facts["declared"]] == declared  # still declared
    assert [m["declared"] for m in facts["near_misses"]] == ["OPENAI_API_KEY"]  # and a misspelling is still one


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


def test_the_shipped_tables_are_consistent_and_cite_a_source():
    data = yaml.safe_load(env_tables.TABLES_PATH.read_text(encoding="utf-8"))
    known = {row["name"] for row in data["names"]}
    assert all(row["readers"] and row["source"] for row in data["names"])
    assert all(row["source"] for table in ("aliases", "key_kinds") for row in data[table])
    for variable in data["key_variables"]:  # a key variable or base URL no tool reads would be a typo of ours
        assert {variable["name"], *variable["base_urls"]} <= known, variable["name"]
    assert {row["means"] for row in data["aliases"]} <= known
    providers = {v["provider"] for v in data["key_variables"]}
    assert {p for row in data["key_kinds"] for p in row["providers"]} <= providers
    prefixes = [p for row in data["key_kinds"] for p in row["prefixes"]]
    for i, prefix in enumerate(prefixes):  # first match wins: a longer prefix must come first
        assert not any(prefix.startswith(earlier) for earlier in prefixes[:i]), prefix


# --- The corpus of real environments (tests/providers/corpus/env/README.md), through the real CLI.

CORPUS = Path(__file__).parent / "corpus" / "env"
BOOT_RULES = ("boot.env-required", "boot.env-not-empty", "boot.env-misspelled", "boot.env-known-neighbour", "boot.key-kind")


def _load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def gate(tmp_path, declared, environ):
    """``wfgy-rules eval`` over the Boot Checkpoint with exactly ``environ`` as the environment."""
    config = {
        "apiVersion": "wfgy-rules/v1",
        "kind": "Config",
        "policies": [resource_path("rules/boot-checkpoint.yaml").as_posix()],
        "providers": {"env": {"declared": declared}},
    }
    (tmp_path / "wfgy.yaml").write_text(json.dumps(config))
    args = [*cli_command(), "eval", "--format", "json", *(a for r in BOOT_RULES for a in ("--only", r))]
    done = subprocess.run(args, cwd=tmp_path, env={**environ, "NO_COLOR": "1"}, capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert (report["outcome"] == "pass") == (done.returncode == 0)
    return report, done


def failing(report):
    """{rule_id: [message, …]} of the failing results."""
    found = {}
    for result in report["results"]:
        if result["status"] != "pass":
            found.setdefault(result["rule_id"], []).append(result["message"])
    return found


SETUPS = sorted((CORPUS / "setups").glob("*.yaml"))


def test_the_corpus_is_there():
    assert len(SETUPS) >= 7
    assert len(_load(CORPUS / "misspellings.yaml")["cases"]) >= 15
    readme = (CORPUS / "README.md").read_text()
    for setup in SETUPS:
        assert f"`{setup.name}`" in readme  # every setup names its origin there
        assert _load(setup)["origin"]


@pytest.mark.parametrize("setup", SETUPS, ids=[s.stem for s in SETUPS])
def test_real_setup_passes_with_the_verdict_written_by_hand(setup, tmp_path):
    case = _load(setup)
    assert all(isinstance(v, str) for v in case["environ"].values())  # an environment holds strings
    report, _ = gate(tmp_path, case["declared"], case["environ"])
    assert report["outcome"] == case["expect"]["outcome"] == "pass"
    assert not [r for r in report["results"] if r["blocking"]]
    found = failing(report)
    expected = case["expect"]["failing"]
    assert sorted(found) == sorted(expected)
    for rule_id, names in expected.items():
        assert sorted(m.split(" ", 1)[0] for m in found[rule_id]) == sorted(names)
    for value in case["environ"].values():
        if "x" * 16 in value:
            assert value not in json.dumps(report)


MISSPELLINGS = _load(CORPUS / "misspellings.yaml")["cases"]


@pytest.mark.parametrize("case", MISSPELLINGS, ids=[c["found"] for c in MISSPELLINGS])
def test_real_misspelling_is_caught(case, tmp_path):
    declared = [{"name": case["declared"], "required": case.get("required", True)}]
    report, done = gate(tmp_path, declared, {"PATH": "/usr/bin:/bin", case["found"]: case.get("value", "x" * 20)})
    if case.get("hint_only"):  # read by a real tool: a hint, never an abort
        assert report["outcome"] == "pass"
        assert failing(report).get("boot.env-known-neighbour", [""])[0].startswith(f"{case['found']} is set (used by ")
        return
    assert done.returncode == 1
    assert failing(report)["boot.env-misspelled"] == [f"{case['found']} is set; did you mean {case['declared']}?"]


WRONG_KEYS = _load(CORPUS / "wrong_keys.yaml")["cases"]


@pytest.mark.parametrize("case", WRONG_KEYS, ids=[f"{c['kind']}-in-{c['name']}" for c in WRONG_KEYS])
def test_another_providers_key_is_caught_without_showing_it(case, tmp_path):
    environ = {case["name"]: case["value"], **case.get("base_url", {})}
    report, done = gate(tmp_path, [{"name": case["name"], "secret": True}], environ)
    assert done.returncode == 1
    (message,) = failing(report)["boot.key-kind"]
    assert message.startswith(f"{case['name']} (provider ") and f"holds a key of kind {case['kind']}," in message
    assert case["value"] not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("environ", "why"),
    [
        ({"OPENAI_API_KEY": "gsk_" + "x" * 48, "OPENAI_BASE_URL": "https://api.groq.com/openai/v1"}, "a Groq key for Groq's endpoint"),
        ({"OPENAI_API_KEY": "sk-ant-api03-" + "x" * 40, "OPENAI_BASE_URL": "http://litellm-proxy:4000"}, "any key for a proxy"),
        ({"ANTHROPIC_API_KEY": "sk-" + "x" * 32, "ANTHROPIC_BASE_URL": "https://api.deepseek.com/anthropic"}, "DeepSeek's Anthropic-compatible API"),
        ({"HF_TOKEN": "sk-" + "x" * 32, "HF_ENDPOINT": "https://hf-mirror.example"}, "a mirror with its own tokens"),
        ({"DEEPSEEK_API_KEY": "sk-proj-" + "x" * 32}, "sk- keys are never wrong for DeepSeek"),
        ({"OPENAI_API_KEY": "token-abc123"}, "an unknown shape is not another provider's key"),
    ],
)
def test_keys_that_belong_where_they_go_pass(environ, why, tmp_path):
    report, done = gate(tmp_path, [], environ)
    assert done.returncode == 0, why
    assert "boot.key-kind" not in failing(report), why


def test_facts_command_shows_known_neighbours_and_key_labels(tmp_path):
    config = {"apiVersion": "wfgy-rules/v1", "kind": "Config", "providers": {"env": {"declared": [{"name": "HF_TOKEN", "required": False}]}}}
    (tmp_path / "wfgy.yaml").write_text(json.dumps(config))
    token = "hf_" + "x" * 34
    done = run_cli("facts", "--provider", "env", cwd=tmp_path, env={"HUGGING_FACE_HUB_TOKEN": token})
    assert done.returncode == 0, done.stderr
    env = json.loads(done.stdout)["env"]
    if "HF_TOKEN" in env["names"]:  # the host running the tests sets it: no near miss then
        pytest.skip("HF_TOKEN is set in the test environment")
    (miss,) = [m for m in env["near_misses"] if m["declared"] == "HF_TOKEN"]
    assert miss["found"] == "HUGGING_FACE_HUB_TOKEN" and miss["known"] and "huggingface_hub" in miss["readers"]
    assert {"name": "HUGGING_FACE_HUB_TOKEN", "provider": "huggingface", "kind": "hf_token", "kind_providers": ["huggingface"], "endpoint": "default"} in env["keys"]
    assert token not in done.stdout
