"""parse_launch: the serving engine's launch read as facts.

The cases are data (launch_cases.yaml beside this file): a command, its environment and the
files ``read_file`` can read, and the facts that must come out. The tests below them check
what must hold for every launch: all keys present, nothing raises, inputs are not changed,
and no secret value reaches the result.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from wfgy_rules.providers.serving.launch import BLANK, parse_launch

CASES = yaml.safe_load((Path(__file__).with_name("launch_cases.yaml")).read_text(encoding="utf-8"))


def run(case: dict) -> dict:
    files = case.get("files", {})
    return parse_launch(case["argv"], case.get("env", {}), files.get)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_launch_case(case):
    result = run(case)
    assert set(result) == set(BLANK)
    for key, value in case.get("expect", {}).items():
        assert result[key] == value, key
    wanted = case.get("errors_contain")
    if wanted is not None:
        assert len(result["errors"]) == len(wanted), result["errors"]
        for text in wanted:
            assert any(text in line for line in result["errors"]), (text, result["errors"])


def test_every_case_names_what_it_checks():
    assert len({c["name"] for c in CASES}) == len(CASES)
    assert all("expect" in c or "errors_contain" in c for c in CASES)


SECRETS = {
    "openai": "sk-proj-Q2h3j4k5l6m7n8o9p0",
    "hf": "hf_AbCdEfGhIjKlMnOpQrStUvWx",
    "plain": "correct-horse-battery-staple",
}


@pytest.mark.parametrize("argv,env,files", [
    (["vllm", "serve", "m", "--api-key", SECRETS["openai"], "--hf-token", SECRETS["hf"]], {}, {}),
    (["vllm", "serve", "m", f"--api-key={SECRETS['plain']}", "--api-key", SECRETS["openai"], SECRETS["hf"]], {}, {}),
    (["vllm", "serve", "m", "--api_key", SECRETS["plain"]], {"HF_TOKEN": SECRETS["hf"], "VLLM_API_KEY": SECRETS["openai"]}, {}),
    (["vllm", "serve", "m", "--config", "c.yaml"], {}, {"c.yaml": f"api-key: {SECRETS['plain']}\nhf-token: {SECRETS['hf']}\n"}),
    (["sh", "-c", f"vllm serve m --api-key '{SECRETS['plain']}' --hf-token $T"], {"T": SECRETS["hf"]}, {}),
    (["python", "-m", "sglang.launch_server", "--model-path", "m", "--api-key", SECRETS["plain"],
      "--admin-api-key", SECRETS["openai"], "--ssl-keyfile-password", SECRETS["hf"]], {}, {}),
    (["text-generation-launcher", "--model-id", "m", "--api-key", SECRETS["plain"], "--ngrok-authtoken", SECRETS["hf"]],
     {"API_KEY": SECRETS["openai"], "HF_TOKEN": SECRETS["hf"]}, {}),
    (["llama-server", "-m", "m.gguf", "--api-key", SECRETS["plain"], "-hft", SECRETS["hf"]], {"LLAMA_API_KEY": SECRETS["openai"]}, {}),
    # values that end up in errors or unknown flags
    (["vllm", "serve", "m", "-tp", SECRETS["openai"], "--max-model-len", SECRETS["hf"]], {}, {}),
    (["vllm", "serve", "m", "--my-secret-token", SECRETS["plain"], f"--unknown={SECRETS['openai']}"], {}, {}),
    (["vllm", "serve", SECRETS["hf"]], {}, {}),
    (["vllm", "serve", "https://user:" + SECRETS["plain"] + "@host/model"], {}, {}),
    (["text-generation-launcher", "--model-id", "m", "--num-shard", SECRETS["openai"]], {}, {}),
])
def test_no_secret_value_appears_anywhere(argv, env, files):
    result = parse_launch(argv, env, files.get)
    text = json.dumps(result) + repr(result)
    for secret in SECRETS.values():
        assert secret not in text
    assert result["engine"] is not None


def test_a_secret_flag_is_consumed_with_its_value():
    result = parse_launch(["vllm", "serve", "--hf-token", SECRETS["plain"], "m"], {})
    assert result["model"] == "m"
    assert result["unknown_flags"] == [] and result["errors"] == []


def test_vllm_api_key_takes_every_word_after_it_as_argparse_does():
    """``--api-key`` is ``nargs="+"``: a model written after it becomes a second key and
    vLLM serves its default model."""
    result = parse_launch(["vllm", "serve", "--api-key", SECRETS["plain"], "m"], {})
    assert result["model"] == "Qwen/Qwen3-0.6B" and "model" not in result["explicit"]


def test_inputs_are_not_changed():
    argv = ["sh", "-c", "export X=1; vllm serve m -tp 2"]
    env = {"VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1"}
    before = (copy.deepcopy(argv), copy.deepcopy(env))
    parse_launch(argv, env)
    assert (argv, env) == before


def test_results_do_not_share_state():
    first = parse_launch(["vllm", "serve", "m", "--bogus"], {})
    first["unknown_flags"].append("x")
    first["sources"]["x"] = "y"
    second = parse_launch(["sleep", "1"], {})
    assert second["unknown_flags"] == [] and second["sources"] == {}


WORDS = st.sampled_from([
    "vllm", "serve", "python", "-m", "vllm.entrypoints.openai.api_server", "sglang.launch_server",
    "text-generation-launcher", "llama-server", "sh", "-c", "env", "exec", "--model", "-tp", "--tp",
    "--max-model-len", "--max-model-len=", "--dtype", "--config", "c.yaml", "--enforce-eager", "--no-enforce-eager",
    "--api-key", "-O", "-O3", "--", "-", "-1", "auto", "8k", "1.5K", "half", "=", "&&", ";", "'", '"', "$X", "${X:-y}",
    "--compilation-config.level", "--num-shard", "--sharded", "-c", "-np", "--ctx-size=1",
])
TEXT = st.text(min_size=0, max_size=12)


@settings(max_examples=300, deadline=None)
@given(argv=st.lists(st.one_of(WORDS, TEXT), max_size=12), env=st.dictionaries(
    st.sampled_from(["MODEL_ID", "NUM_SHARD", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LLAMA_ARG_CTX_SIZE",
                     "VLLM_ALLOW_LONG_MAX_MODEL_LEN", "SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN", "TRUST_REMOTE_CODE", "X"]),
    st.one_of(TEXT, st.sampled_from(["all", "1", "0,1", "true", ""])), max_size=4),
    config=st.one_of(st.none(), TEXT, st.sampled_from(["tensor-parallel-size: 2\n", "- a\n", "a: [1, {b: 2}]\n", "x: !!python/object {}\n"])))
def test_any_command_gives_all_keys_and_never_raises(argv, env, config):
    result = parse_launch(argv, env, lambda path: config)
    assert set(result) == set(BLANK)
    assert isinstance(result["errors"], list) and all(isinstance(e, str) and "\n" not in e for e in result["errors"])
    assert result["explicit"] == sorted(result["explicit"])
