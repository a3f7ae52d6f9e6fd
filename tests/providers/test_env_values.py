"""The env provider's secret refusal and value kinds: every alternative of each secret shape.

Only the label of a value is kept (``kinds``); a variable is exposed only when neither its
declaration, its name nor its value says it holds a credential, and the refusal never shows
the value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.env.credentials import looks_secret
from wfgy_rules.providers.env.env import EnvProvider, value_kind


def collect(config, environ):
    return EnvProvider().collect(config, ProviderContext(base_dir=Path.cwd(), environ=environ))


@pytest.mark.parametrize("value,kind", [
    ("sk-ant-api03-abc", "anthropic_key"),   # before the sk- of OpenAI keys
    ("sk-proj-abc", "openai_key"),
    ("sk-", "openai_key"),
    ("  sk-abc  ", "openai_key"),            # surrounding space is not part of the value
    ("hf_abcdef", "hf_token"),
    ("https://api.openai.com/v1", "url"),
    ("postgres+psycopg://u@db/x", "url"),
    ("s3://bucket", "url"),
    ("", "empty"),
    ("   ", "empty"),
    ("info", "other"),
    ("https://", "other"),                   # a scheme with nothing after it
    ("https://a b", "other"),                # spaces are not a URL
    ("1http://x", "other"),                  # a scheme starts with a letter
    ("ask-abc", "other"),
    ("xhf_abc", "other"),
    ("SK-abc", "other"),
])
def test_value_kind(value, kind):
    assert value_kind(value) == kind


@pytest.mark.parametrize("name", [
    "OPENAI_API_KEY", "HF_TOKEN", "CLIENT_SECRET", "DB_PASSWORD", "DB_PASSWD", "GCP_CREDENTIAL",
    "GCP_CREDENTIALS", "KEY", "TOKEN", "api_key", "Hf_Token",
])
def test_names_that_say_secret(name):
    assert looks_secret(name)


@pytest.mark.parametrize("name", [
    "KEYBOARD", "MONKEY", "TOKENS", "API_KEY_ID", "PASSWORD_FILE", "SECRETARY", "LOG_LEVEL", "CREDENTIALSS",
])
def test_names_that_do_not(name):
    assert not looks_secret(name)


@pytest.mark.parametrize("name,value", [
    ("LOG_LEVEL", "sk-ant-abc"),
    ("LOG_LEVEL", "sk-abc"),
    ("LOG_LEVEL", "hf_abc"),
    ("LOG_LEVEL", " sk-abc"),
    ("DATABASE_URL", "postgres://user:pw@db/app"),
    ("DATABASE_URL", "  redis://:pw@cache:6379"),
    ("AUTH_HEADER", "Bearer sk-ant-abc"),
    ("AUTH_HEADER", "token=hf_abc"),
    ("AUTH_HEADER", "x,sk-1"),
])
def test_a_value_that_holds_a_credential_is_refused(name, value):
    with pytest.raises(ProviderError) as caught:
        collect({"expose": [name]}, {name: value})
    assert str(caught.value) == f"refusing to expose secret variable {name}"
    assert value.strip() not in str(caught.value)


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "db_password", "HF_TOKEN"])
def test_a_name_that_says_secret_is_refused_even_when_unset(name):
    with pytest.raises(ProviderError, match=f"refusing to expose secret variable {name}"):
        collect({"expose": [name]}, {})


def test_a_variable_declared_secret_is_refused():
    config = {"declared": [{"name": "LOG_LEVEL", "secret": True}], "expose": ["LOG_LEVEL"]}
    with pytest.raises(ProviderError, match="refusing to expose secret variable LOG_LEVEL"):
        collect(config, {"LOG_LEVEL": "info"})
    config["declared"][0]["secret"] = False
    assert collect(config, {"LOG_LEVEL": "info"})["values"] == {"LOG_LEVEL": "info"}


@pytest.mark.parametrize("value", [
    "info", "task-1", "https://db/x@y", "https://example.com/path?user=a@b", "ask-me", "sk", "hf", "shf_x", "mask-1", "x sk-", "x hf_-", "",
])
def test_ordinary_values_are_exposed(value):
    assert collect({"expose": ["SETTING"]}, {"SETTING": value})["values"] == {"SETTING": value}


def test_exposed_values_keep_their_order_and_unset_ones_are_null():
    values = collect({"expose": ["B", "A", "C"]}, {"A": "1", "B": "2"})["values"]
    assert list(values.items()) == [("B", "2"), ("A", "1"), ("C", None)]


def test_kinds_keep_only_the_label():
    facts = collect({"declared": ["OPENAI_API_KEY", "EMPTY", "UNSET"]},
                    {"OPENAI_API_KEY": "sk-ant-abc", "EMPTY": " ", "ANTHROPIC_API_KEY": "x", "OTHER": "sk-1"})
    assert facts["kinds"] == {"ANTHROPIC_API_KEY": "other", "EMPTY": "empty", "OPENAI_API_KEY": "anthropic_key"}
    assert "sk-ant-abc" not in repr(facts)
