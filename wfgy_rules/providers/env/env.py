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

A secret is one requirement, with its sources: a name that ``providers.secrets.required``
also lists is judged by the ``secrets`` provider alone (set, mounted as a file, or in a
dotenv file: ``boot.secrets-present``), so it is never in ``missing`` or ``empty`` here, and
``OPENAI_API_KEY`` mounted at ``/run/secrets/OPENAI_API_KEY`` does not fail
``boot.env-required``. It stays in ``declared``, and a misspelt neighbour in the
environment is still a ``near_misses`` entry.

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
``_KEY``, ``_TOKEN``, ``_SECRET``, ``_PASSWORD``, …) or one whose value holds one (an API
key of any known shape, anywhere in the value; a URL with ``user:password@``; a
``password=…`` assignment) raises `ProviderError` ("refusing to expose secret variable
NAME"): the run reports the provider's rules as errors and shows no value. The test is
`wfgy_rules.providers.env.credentials`, the same for every provider that can expose a value.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.env.credentials import check_exposable, kind_providers, value_kind
from wfgy_rules.providers.env.dotenv import parse_env_file
from wfgy_rules.providers.env.env_tables import KeyVariable, tables

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
SIMILARITY_CUTOFF = 0.8

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
        judged = [d for d in declared if d.name not in ctx.secret_names]  # the secrets provider judges the rest
        detect = config.get("detect_kinds", True)
        key_names = {k.name for k in tables().key_variables if k.name in environ}
        return {
            "names": sorted(environ),
            "declared": [d.as_fact() for d in declared],
            "missing": sorted(d.name for d in judged if d.required and d.name not in environ),
            "empty": sorted(d.name for d in judged if d.name in environ and not environ[d.name].strip()),
            "near_misses": _near_misses(declared, environ),
            "values": values,
            "kinds": {n: value_kind(environ[n]) for n in sorted({*set_declared, *key_names})} if detect else {},
            "keys": _keys(environ) if detect else [],
        }


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


def declared_secret_names(spec: str | list[Any] | None, ctx: ProviderContext) -> frozenset[str]:
    """The names a declared env (``env.declared``, ``kubernetes.declared_env``) marks secret."""
    return frozenset(d.name for d in _declared(spec, ctx) if d.secret)


def _from_mapping(item: Mapping[str, Any]) -> Declared:
    return Declared(item["name"], item.get("required", True), item.get("secret", False))


def _exposed_values(
    expose: Sequence[str], declared: Sequence[Declared], environ: Mapping[str, str], secret_names: frozenset[str]
) -> dict[str, str | None]:
    secret = {d.name for d in declared if d.secret} | secret_names
    for name in expose:
        check_exposable(name, environ.get(name, ""), secret)
    return {name: environ.get(name) for name in expose}


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
