"""The ``env`` provider's tables, read from ``env_names.yaml`` (shipped inside the package).

Real variable names with the tools that read them, aliases seen in the wild, the shapes of
API keys and of other services' credentials, and the variables that hold one provider's key
with the base URLs that send it elsewhere. Every row names its source in the YAML file; the
code only reads the tables (`wfgy_rules.providers.env.env` for facts,
`wfgy_rules.providers.env.credentials` for what may never be exposed).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wfgy_rules.documents.yamlio import load_file

TABLES_PATH = Path(__file__).with_name("env_names.yaml")


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
