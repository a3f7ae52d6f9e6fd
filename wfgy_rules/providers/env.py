"""``env``: the declared environment against the effective one, without leaking values.

Config (``providers.env`` in ``wfgy.yaml``)::

    providers:
      env:
        declared: .env.example          # a file (path relative to wfgy.yaml), or a list:
        # declared:
        #   - OPENAI_API_KEY              # a bare name: required, not secret
        #   - {name: OPENAI_BASE_URL, required: false}
        #   - {name: HF_TOKEN, secret: true}
        expose: [LOG_LEVEL]             # the only variables whose values may appear in facts
        detect_kinds: true              # classify declared values (see ``kinds``); default true

The declared file follows the ``.env.example`` convention (`wfgy_rules.providers.dotenv`):
one ``NAME=``, ``NAME=example`` or bare ``NAME`` per line, ``#`` comments; a trailing comment
that starts with the words ``secret`` and/or ``optional`` marks the entry; every other entry
is required and not secret::

    OPENAI_API_KEY=          # secret
    OPENAI_BASE_URL=https://api.openai.com/v1   # optional
    HF_TOKEN=                # secret, optional - only for gated models
    LOG_LEVEL=info

Example values in the file are never read into facts. A line that is not an entry is an
error naming the file and line (never its text: example files sometimes hold real keys).

Facts (``env.*``)::

    names: [HOME, LOG_LEVEL, OPEN_API_KEY, PATH]      # every set variable, sorted
    declared:                                         # in declaration order
      - {name: OPENAI_API_KEY, required: true, secret: true}
      - {name: LOG_LEVEL, required: true, secret: false}
    missing: [OPENAI_API_KEY]       # required declared names that are not set (sorted)
    empty: []                       # declared names set to "" or whitespace (sorted)
    near_misses:                    # a set variable that is probably the intended one
      - {declared: OPENAI_API_KEY, found: OPEN_API_KEY, required: true, via: alias}
    values: {LOG_LEVEL: info}       # only names listed in ``expose`` (null when unset)
    kinds: {LOG_LEVEL: other}       # set declared names and set SDK names (OPENAI_API_KEY, …):
                                    # openai_key | anthropic_key | hf_token | url | empty | other
                                    # ({} if detect_kinds off)

``near_misses`` looks at every declared name that is not set (required or optional: an
``OPENAI_API_BASE`` that shadows an optional ``OPENAI_BASE_URL`` is just as wrong) and
proposes one set, undeclared variable: first from a table of names seen in the wild
(``via: alias``, see DOMAIN.md "Env var names"), else the closest name by
``difflib`` ratio of at least 0.8, ignoring case (``via: similar``). The cutoff is high on
purpose: ``CLAUDE_API_KEY`` is 0.65 from ``AZURE_OPENAI_API_KEY`` and must not pair with it;
and a variable the SDKs really read (``AZURE_OPENAI_API_KEY``) is never taken for a typo of
another (``OPENAI_API_KEY``, 0.82 away).

``kinds`` is computed from the value and only the label is kept: an ``sk-ant-`` value in
``OPENAI_API_KEY`` (``kinds.OPENAI_API_KEY == 'anthropic_key'``) is worth a rule.

Exposing a variable declared ``secret``, one whose name looks like a credential (ends in
``_KEY``, ``_TOKEN``, ``_SECRET``, ``_PASSWORD``, …) or one whose value looks like one (an
API key, a URL with ``user:password@``) raises `ProviderError` ("refusing to expose secret
variable NAME"): the run reports the provider's rules as errors and shows no value.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.dotenv import parse_env_file

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
SIMILARITY_CUTOFF = 0.8

# Wrong name -> the name SDKs read (DOMAIN.md "Env var names"). Looked up both ways, so a
# project that declares a legacy name still hears about the current one being set.
ALIASES: dict[str, str] = {
    "OPEN_API_KEY": "OPENAI_API_KEY",
    "OPENAI_KEY": "OPENAI_API_KEY",
    "OPENAI_API_BASE": "OPENAI_BASE_URL",
    "OPENAI_ORGANIZATION": "OPENAI_ORG_ID",
    "AZURE_OPENAI_KEY": "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_API_VERSION": "OPENAI_API_VERSION",
    "CLAUDE_API_KEY": "ANTHROPIC_API_KEY",
    "ANTHROPIC_KEY": "ANTHROPIC_API_KEY",
    "HUGGINGFACE_TOKEN": "HF_TOKEN",
    "HUGGINGFACEHUB_API_TOKEN": "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN": "HF_TOKEN",
}

# Names the SDKs really read: a set variable with one of these names is in use on purpose,
# so it is never proposed as a misspelling of another (OPENAI_API_KEY is 0.82 from
# AZURE_OPENAI_API_KEY, yet neither is a typo of the other). Aliases are still looked up.
SDK_NAMES = frozenset(ALIASES.values()) | {
    "OPENAI_PROJECT_ID",
    "AZURE_OPENAI_ENDPOINT",
    "ANTHROPIC_BASE_URL",
    "HUGGING_FACE_HUB_TOKEN",
}

SECRET_NAME = re.compile(r"(?:^|_)(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.I)

# First match wins: ``sk-ant-`` must be tested before the ``sk-`` of OpenAI keys.
VALUE_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("anthropic_key", re.compile(r"^sk-ant-")),
    ("openai_key", re.compile(r"^sk-")),
    ("hf_token", re.compile(r"^hf_")),
    ("url", re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")),
)
CREDENTIAL_KINDS = frozenset({"anthropic_key", "openai_key", "hf_token"})
URL_WITH_USERINFO = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s]+@")  # postgres://u:p@db
# A key anywhere in a value ("Bearer sk-ant-…", "token=hf_…") is still a key.
EMBEDDED_CREDENTIAL = re.compile(r"(?:^|[^A-Za-z0-9])(?:sk-|hf_)[A-Za-z0-9]")


CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "env provider",
    "description": "Declared environment variables, compared with the effective environment.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "declared": {
            "title": "Declared variables",
            "description": (
                "A .env.example-style file (relative to wfgy.yaml; '# secret' / '# optional' "
                "trailing comments mark entries) or a list of names or {name, required, secret}."
            ),
            "oneOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "array",
                    "items": {
                        "oneOf": [
                            {
                                "type": "string",
                                "pattern": NAME_PATTERN,
                                "title": "Name",
                                "description": "A required, non-secret variable.",
                            },
                            {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["name"],
                                "properties": {
                                    "name": {
                                        "type": "string",
                                        "pattern": NAME_PATTERN,
                                        "title": "Name",
                                        "description": "The variable's name.",
                                    },
                                    "required": {
                                        "type": "boolean",
                                        "default": True,
                                        "title": "Required",
                                        "description": "The service cannot start without it.",
                                    },
                                    "secret": {
                                        "type": "boolean",
                                        "default": False,
                                        "title": "Secret",
                                        "description": "Its value must never be exposed.",
                                    },
                                },
                            },
                        ]
                    },
                },
            ],
        },
        "expose": {
            "title": "Exposed variables",
            "description": "Names whose values may appear in facts (never secrets).",
            "type": "array",
            "items": {"type": "string", "pattern": NAME_PATTERN},
            "default": [],
        },
        "detect_kinds": {
            "title": "Detect value kinds",
            "description": "Classify declared values (openai_key, url, …) without keeping them.",
            "type": "boolean",
            "default": True,
        },
    },
}


@dataclass(frozen=True)
class Declared:
    name: str
    required: bool = True
    secret: bool = False

    def as_fact(self) -> dict[str, Any]:
        return {"name": self.name, "required": self.required, "secret": self.secret}


class EnvProvider:
    """Facts about declared vs set environment variables (see the module docstring)."""

    config_schema = CONFIG_SCHEMA

    def collect(self, config: Mapping[str, Any], ctx: ProviderContext) -> dict[str, Any]:
        environ = ctx.environ
        declared = _declared(config.get("declared"), ctx)
        values = _exposed_values(config.get("expose", []), declared, environ)
        set_declared = [d.name for d in declared if d.name in environ]
        return {
            "names": sorted(environ),
            "declared": [d.as_fact() for d in declared],
            "missing": sorted(d.name for d in declared if d.required and d.name not in environ),
            "empty": sorted(n for n in set_declared if not environ[n].strip()),
            "near_misses": _near_misses(declared, environ),
            "values": values,
            "kinds": (
                {n: value_kind(environ[n]) for n in sorted({*set_declared, *(SDK_NAMES & environ.keys())})}
                if config.get("detect_kinds", True)
                else {}
            ),
        }


def value_kind(value: str) -> str:
    """The shape of a value (``openai_key``, ``url``, …); the value itself is not kept."""
    stripped = value.strip()
    if not stripped:
        return "empty"
    return next((kind for kind, pattern in VALUE_KINDS if pattern.match(stripped)), "other")


def looks_secret(name: str) -> bool:
    """Whether a variable's name says it holds a credential (``*_KEY``, ``*_TOKEN``, …)."""
    return bool(SECRET_NAME.search(name))


def _declared(spec: str | list[Any] | None, ctx: ProviderContext) -> list[Declared]:
    if spec is None:
        return []
    if isinstance(spec, str):
        items = [Declared(e.name, e.required, e.secret) for e in parse_env_file(ctx.resolve(spec))]
    else:
        items = [Declared(i) if isinstance(i, str) else _from_mapping(i) for i in spec]
    by_name: dict[str, Declared] = {}
    for item in items:  # a later declaration of the same name wins, at its first position
        by_name[item.name] = item
    return list(by_name.values())


def _from_mapping(item: Mapping[str, Any]) -> Declared:
    return Declared(item["name"], item.get("required", True), item.get("secret", False))


def _exposed_values(
    expose: Sequence[str], declared: Sequence[Declared], environ: Mapping[str, str]
) -> dict[str, str | None]:
    secret = {d.name for d in declared if d.secret}
    for name in expose:
        value = environ.get(name, "")
        if name in secret or looks_secret(name) or _holds_credential(value):
            raise ProviderError(f"refusing to expose secret variable {name}")
    return {name: environ.get(name) for name in expose}


def _holds_credential(value: str) -> bool:
    return (
        value_kind(value) in CREDENTIAL_KINDS
        or bool(URL_WITH_USERINFO.match(value.strip()))
        or bool(EMBEDDED_CREDENTIAL.search(value))
    )


def _near_misses(declared: Sequence[Declared], environ: Mapping[str, str]) -> list[dict[str, Any]]:
    declared_names = {d.name for d in declared}
    candidates = sorted(n for n in environ if n not in declared_names)
    misses = []
    for item in declared:
        if item.name in environ:
            continue
        found, via = _near_miss(item.name, candidates)
        if found is not None:
            misses.append(
                {"declared": item.name, "found": found, "required": item.required, "via": via}
            )
    return misses


def _near_miss(name: str, candidates: Sequence[str]) -> tuple[str | None, str | None]:
    aliases = [c for c in candidates if ALIASES.get(c) == name or ALIASES.get(name) == c]
    if aliases:
        return aliases[0], "alias"
    ratios = [(_similarity(name, c), c) for c in candidates if c not in SDK_NAMES]
    close = [pair for pair in ratios if pair[0] >= SIMILARITY_CUTOFF]
    if not close:
        return None, None
    return max(close, key=lambda pair: pair[0])[1], "similar"  # ties: first name in order


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.upper(), b.upper()).ratio()
