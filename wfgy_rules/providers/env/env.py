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
        detect_kinds: true              # classify values (``kinds``, ``keys``); default true

The declared file follows the ``.env.example`` convention (`wfgy_rules.providers.env.dotenv`):
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
      - {declared: OPENAI_API_KEY, found: OPEN_API_KEY, required: true, via: alias,
         known: false, readers: []}
      - {declared: HF_TOKEN, found: HUGGING_FACE_HUB_TOKEN, required: false, via: alias,
         known: true, readers: [huggingface_hub, vllm docs]}
    values: {LOG_LEVEL: info}       # only names listed in ``expose`` (null when unset)
    kinds: {LOG_LEVEL: other}       # set declared names and set key variables (see ``keys``)
    keys:                           # one per set key variable of a provider ({} / [] if
      - name: OPENAI_API_KEY        #   detect_kinds is off)
        provider: openai            # whose key the variable holds
        kind: anthropic_key         # the value's shape
        kind_providers: [anthropic] # who issues keys of that shape ([] for an unknown shape)
        endpoint: default           # default (no base URL set) | official | custom

``near_misses`` looks at every declared name that is not set (required or optional:
``CUDA_VISIBLE_DEVICE=0`` with ``CUDA_VISIBLE_DEVICES`` unset silently uses every GPU) and
proposes one set, undeclared variable: a name from the alias table (``via: alias``: names
seen in the wild, e.g. ``OPEN_API_KEY``, ``CLAUDE_API_KEY``), else the closest name by
``difflib`` ratio of at least 0.8, ignoring case (``via: similar``). The cutoff is high on
purpose: ``CLAUDE_API_KEY`` is 0.65 from ``AZURE_OPENAI_API_KEY`` and must not pair with it.
A declared name that is set never has a near miss.

``known`` tells whether the found name is itself a variable that a real tool reads
(``readers``: the libraries, serving engines or container runtimes that read it):
``NVIDIA_VISIBLE_DEVICES`` (nvidia-container-toolkit) beside ``CUDA_VISIBLE_DEVICES``,
``HUGGING_FACE_HUB_TOKEN`` (huggingface_hub) beside ``HF_TOKEN``, ``OPENAI_API_TYPE`` beside
``OPENAI_API_KEY``. Such a variable is set on purpose and is no typo: the Boot Checkpoint
aborts only on unknown found names and gives known ones an info hint. When several set
names qualify, an unknown one is proposed first (it is the one that can be a collapse).

``kinds`` and ``keys`` classify values by shape and keep only the label: ``openai_key``
(``sk-``: OpenAI, and DeepSeek, whose keys are ``sk-`` too), ``anthropic_key`` (``sk-ant-``),
``openrouter_key`` (``sk-or-``), ``hf_token`` (``hf_``), ``groq_key`` (``gsk_``),
``google_key`` (``AIza``), ``xai_key`` (``xai-``), ``replicate_key`` (``r8_``),
``perplexity_key`` (``pplx-``), else ``url``, ``empty`` or ``other``. ``keys`` lists every
set variable that holds one provider's key (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``,
``HF_TOKEN``, ``GROQ_API_KEY``, ``DEEPSEEK_API_KEY``, ``AZURE_OPENAI_API_KEY``, …) with the
providers that issue keys of its value's shape, so a rule can tell an Anthropic key in
``OPENAI_API_KEY`` (a real mistake) from a vLLM ``token-abc123`` or LibreChat's
``user_provided`` (an unknown shape: not another provider's key). ``endpoint`` says where the
key goes: ``custom`` when one of the provider's base-URL variables (``OPENAI_BASE_URL``,
``OPENAI_API_BASE``, ``ANTHROPIC_BASE_URL``, ``HF_ENDPOINT``, …) is set to anything but the
provider's official host (a Groq key in ``OPENAI_API_KEY`` with ``OPENAI_BASE_URL`` at Groq
belongs to that endpoint), ``official`` when set to the official host, ``default`` when none
is set. Neither a value nor a URL or host name ever appears in the facts.

The tables behind all of this (real variable names with their readers, the aliases, key
shapes, key variables with their base URLs and official hosts) are data, with the source of
every row: ``wfgy_rules/providers/env/env_names.yaml``, shipped inside the package.

Exposing a variable declared ``secret``, one whose name looks like a credential (ends in
``_KEY``, ``_TOKEN``, ``_SECRET``, ``_PASSWORD``, …) or one whose value looks like one (an
API key, a URL with ``user:password@``) raises `ProviderError` ("refusing to expose secret
variable NAME"): the run reports the provider's rules as errors and shows no value.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wfgy_rules.documents.yamlio import load_file
from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.env.dotenv import parse_env_file

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
SIMILARITY_CUTOFF = 0.8
TABLES_PATH = Path(__file__).with_name("env_names.yaml")

SECRET_NAME = re.compile(r"(?:^|_)(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.I)
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
URL_WITH_USERINFO = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s]+@")  # postgres://u:p@db


@dataclass(frozen=True)
class KeyVariable:
    """A variable that holds one provider's key, and where its base URL may point instead."""

    name: str
    provider: str
    base_urls: tuple[str, ...]
    hosts: tuple[str, ...]  # official hosts; ".example.com" matches its subdomains


@dataclass(frozen=True)
class Tables:
    """``env_names.yaml``: real variable names, aliases, key shapes and key variables."""

    readers: Mapping[str, tuple[str, ...]]  # known name -> the tools that read it
    aliases: Mapping[str, str]  # wrong name -> the name the tool reads
    key_kinds: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # (kind, prefixes, providers)
    key_variables: tuple[KeyVariable, ...]
    credential_shapes: re.Pattern[str]  # any other service's credential, by shape

    @property
    def credential_prefixes(self) -> tuple[str, ...]:
        return tuple(p for _, prefixes, _ in self.key_kinds for p in prefixes)


@functools.lru_cache(maxsize=1)
def tables() -> Tables:
    """The shipped tables, read once (a broken file is a packaging bug: it raises)."""
    data = load_file(TABLES_PATH).data
    return Tables(
        readers={row["name"]: tuple(row["readers"]) for row in data["names"]},
        aliases={row["found"]: row["means"] for row in data["aliases"]},
        key_kinds=tuple(
            (row["kind"], tuple(row["prefixes"]), tuple(row["providers"])) for row in data["key_kinds"]
        ),
        key_variables=tuple(
            KeyVariable(row["name"], row["provider"], tuple(row["base_urls"]), tuple(row["hosts"]))
            for row in data["key_variables"]
        ),
        credential_shapes=re.compile("|".join(f"(?:{row['pattern']})" for row in data["credential_shapes"]), re.ASCII),
    )


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
            "description": "Classify the values of declared and key variables (openai_key, url, …) and where keys go (official or custom base URL), without keeping values or URLs.",
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
        values = _exposed_values(config.get("expose", []), declared, environ, ctx.secret_names)
        set_declared = [d.name for d in declared if d.name in environ]
        detect = config.get("detect_kinds", True)
        key_names = {k.name for k in tables().key_variables if k.name in environ}
        return {
            "names": sorted(environ),
            "declared": [d.as_fact() for d in declared],
            "missing": sorted(d.name for d in declared if d.required and d.name not in environ),
            "empty": sorted(n for n in set_declared if not environ[n].strip()),
            "near_misses": _near_misses(declared, environ),
            "values": values,
            "kinds": {n: value_kind(environ[n]) for n in sorted({*set_declared, *key_names})} if detect else {},
            "keys": _keys(environ) if detect else [],
        }


def value_kind(value: str) -> str:
    """The shape of a value (``openai_key``, ``url``, …); the value itself is not kept."""
    stripped = value.strip()
    if not stripped:
        return "empty"
    for kind, prefixes, _ in tables().key_kinds:  # first match wins: sk-ant- before sk-
        if stripped.startswith(prefixes):
            return kind
    return "url" if URL.match(stripped) else "other"


def kind_providers(kind: str) -> list[str]:
    """The providers that issue keys of a kind (``[]`` for ``url``, ``other``, …)."""
    return next((list(providers) for k, _, providers in tables().key_kinds if k == kind), [])


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
    expose: Sequence[str], declared: Sequence[Declared], environ: Mapping[str, str], secret_names: frozenset[str]
) -> dict[str, str | None]:
    secret = {d.name for d in declared if d.secret} | secret_names
    for name in expose:
        value = environ.get(name, "")
        if name in secret or looks_secret(name) or _holds_credential(value):
            raise ProviderError(f"refusing to expose secret variable {name}")
    return {name: environ.get(name) for name in expose}


def _holds_credential(value: str) -> bool:
    return (
        bool(kind_providers(value_kind(value)))
        or bool(URL_WITH_USERINFO.match(value.strip()))
        or bool(_embedded_credential().search(value))
        or bool(tables().credential_shapes.search(value))
    )


@functools.lru_cache(maxsize=1)
def _embedded_credential() -> re.Pattern[str]:
    """A key anywhere in a value ("Bearer sk-ant-…", "token=hf_…") is still a key."""
    prefixes = "|".join(re.escape(p) for p in tables().credential_prefixes)
    return re.compile(rf"(?:^|[^A-Za-z0-9])(?:{prefixes})[A-Za-z0-9]")


def _keys(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    keys = []
    for variable in tables().key_variables:
        if variable.name not in environ:
            continue
        kind = value_kind(environ[variable.name])
        keys.append(
            {
                "name": variable.name,
                "provider": variable.provider,
                "kind": kind,
                "kind_providers": kind_providers(kind),
                "endpoint": _endpoint(variable, environ),
            }
        )
    return keys


def _endpoint(variable: KeyVariable, environ: Mapping[str, str]) -> str:
    """``default`` (no base URL set), ``official`` or ``custom``; never the URL or its host."""
    urls = [environ[n].strip() for n in variable.base_urls if environ.get(n, "").strip()]
    if not urls:
        return "default"
    return "official" if all(_official(url, variable.hosts) for url in urls) else "custom"


def _official(url: str, hosts: Sequence[str]) -> bool:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:  # a malformed URL (bad port, bad brackets) points nowhere official
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    return any(host.endswith(h) if h.startswith(".") else host == h for h in hosts)


def _near_misses(declared: Sequence[Declared], environ: Mapping[str, str]) -> list[dict[str, Any]]:
    declared_names = {d.name for d in declared}
    candidates = sorted(n for n in environ if n not in declared_names)
    readers = tables().readers
    misses = []
    for item in declared:
        if item.name in environ:
            continue
        found, via = _near_miss(item.name, candidates, readers)
        if found is not None:
            misses.append(
                {
                    "declared": item.name,
                    "found": found,
                    "required": item.required,
                    "via": via,
                    "known": found in readers,
                    "readers": list(readers.get(found, ())),
                }
            )
    return misses


def _near_miss(
    name: str, candidates: Sequence[str], readers: Mapping[str, Sequence[str]]
) -> tuple[str | None, str | None]:
    """The set name most likely meant as ``name``: unknown names first (they can be a collapse),
    then names real tools read; within each, an alias before the closest similar name."""
    aliases = tables().aliases
    unknown = [c for c in candidates if c not in readers]
    known = [c for c in candidates if c in readers]
    for group in (unknown, known):
        alias = next((c for c in group if aliases.get(c) == name or aliases.get(name) == c), None)
        if alias is not None:
            return alias, "alias"
        close = [(_similarity(name, c), c) for c in group]
        close = [pair for pair in close if pair[0] >= SIMILARITY_CUTOFF]
        if close:
            return max(close, key=lambda pair: pair[0])[1], "similar"  # ties: first name in order
    return None, None


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.upper(), b.upper()).ratio()
