"""``secrets``: are the required secrets there, and where from? Never what they are.

Config (``providers.secrets`` in ``wfgy.yaml``)::

    providers:
      secrets:
        required: [OPENAI_API_KEY, HF_TOKEN]
        sources:                          # looked up in this order; default [{type: env}]
          - {type: env}                   # the process environment
          - {type: dir, path: /run/secrets}        # one file per secret, named like it
          - {type: dir, path: /vault/secrets}      # Vault Agent templates
          - {type: dotenv, path: .env}    # NAME=value lines (relative to wfgy.yaml)

A ``dir`` source is a directory with one file per secret whose name is the secret's name:
Docker/Compose ``/run/secrets``, Vault Agent's ``/vault/secrets``, or a Kubernetes secret
volume (its ``NAME -> ..data/NAME`` symbolic links are followed). A secret that is unset,
empty or only whitespace counts as missing. The filesystem is read again on every
collect, so a ``block`` remedy sees a secret as soon as it is mounted.

Facts (``secrets.*``)::

    required: [OPENAI_API_KEY, HF_TOKEN]
    present: {OPENAI_API_KEY: {source: "dir:/run/secrets"}}   # the first source that has it
    missing: [HF_TOKEN]                   # sorted
    empty: [HF_TOKEN]                     # missing names found, but empty, in some source
    sources: [env, "dir:/run/secrets", "dotenv:.env"]          # paths as configured
    source_errors:                        # why a source could not answer (never a value)
      - {source: "dir:/vault/secrets", message: directory not found}

A source that cannot answer (missing directory, a directory or unreadable file where a
secret file should be, a malformed dotenv file) simply does not provide the secret; the
reason is listed in ``source_errors``. Values are never read into facts: for files only
the size and, when it is not zero, whether the content is whitespace are looked at.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.env.dotenv import parse_env_file

SECRET_NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"  # also a safe file name: no '/', no '..'
DEFAULT_SOURCES: tuple[Mapping[str, str], ...] = ({"type": "env"},)
_CHUNK = 256  # bytes looked at per read while checking a file for whitespace only


def _source_schema(kind: str, description: str, path: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "type": {"const": kind, "title": "Source type", "description": description}
    }
    if path:
        properties["path"] = {
            "type": "string",
            "minLength": 1,
            "title": "Path",
            "description": path,
        }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "path"] if path else ["type"],
        "properties": properties,
    }


CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "secrets provider",
    "description": "Which required secrets are present, and from which source (never values).",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "required": {
            "title": "Required secrets",
            "description": "Names of the secrets the service needs.",
            "type": "array",
            "items": {"type": "string", "pattern": SECRET_NAME_PATTERN},
            "default": [],
        },
        "sources": {
            "title": "Sources",
            "description": "Where to look, in order; the first source that has a secret wins.",
            "type": "array",
            "items": {
                "oneOf": [
                    _source_schema("env", "The process environment."),
                    _source_schema(
                        "dir",
                        "A directory with one file per secret (Kubernetes, Vault Agent, Docker).",
                        "The directory, relative to wfgy.yaml or absolute.",
                    ),
                    _source_schema(
                        "dotenv",
                        "A NAME=value file.",
                        "The file, relative to wfgy.yaml or absolute.",
                    ),
                ]
            },
            "default": [{"type": "env"}],
        },
    },
}


class _Unreadable(Exception):
    """A secret file is in the way but cannot be used; the message is a reason, never content."""


class Found(Enum):
    PRESENT = "present"
    EMPTY = "empty"


# What one source says: the names it has (present or empty) and why it could not answer.
Lookup = tuple[dict[str, Found], list[str]]


class SecretsProvider:
    """Facts about required secrets and their sources (see the module docstring)."""

    config_schema = CONFIG_SCHEMA

    def collect(self, config: Mapping[str, Any], ctx: ProviderContext) -> dict[str, Any]:
        required = list(dict.fromkeys(config.get("required", [])))
        sources = config.get("sources", DEFAULT_SOURCES)
        present: dict[str, dict[str, str]] = {}
        seen_empty: set[str] = set()
        source_errors = []
        for source in sources:
            label = describe(source)
            found, errors = SOURCES[source["type"]](source, required, ctx)
            source_errors += [{"source": label, "message": message} for message in errors]
            for name, state in found.items():
                if state is Found.PRESENT:
                    present.setdefault(name, {"source": label})
                else:
                    seen_empty.add(name)
        missing = sorted(set(required) - present.keys())
        return {
            "required": required,
            "present": {name: present[name] for name in required if name in present},
            "missing": missing,
            "empty": sorted(seen_empty.intersection(missing)),
            "sources": [describe(source) for source in sources],
            "source_errors": source_errors,
        }


def describe(source: Mapping[str, str]) -> str:
    """``env``, ``dir:<path>`` or ``dotenv:<path>``, with the path as configured."""
    return f"{source['type']}:{source['path']}" if "path" in source else source["type"]


def _from_env(source: Mapping[str, str], names: Sequence[str], ctx: ProviderContext) -> Lookup:
    found = {
        name: _state(bool(ctx.environ[name].strip())) for name in names if name in ctx.environ
    }
    return found, []


def _from_dir(source: Mapping[str, str], names: Sequence[str], ctx: ProviderContext) -> Lookup:
    directory = ctx.resolve(source["path"])
    if not directory.exists():
        return {}, ["directory not found"]
    if not directory.is_dir():
        return {}, ["not a directory"]
    found: dict[str, Found] = {}
    errors = []
    for name in names:
        try:
            state = _probe_file(directory / name)
        except _Unreadable as exc:
            errors.append(f"{name}: {exc}")
            continue
        if state is not None:
            found[name] = state
    return found, errors


def _from_dotenv(source: Mapping[str, str], names: Sequence[str], ctx: ProviderContext) -> Lookup:
    try:
        entries = parse_env_file(ctx.resolve(source["path"]))
    except ProviderError as exc:
        return {}, [str(exc)]
    has_value = {entry.name: entry.has_value for entry in entries}  # the last entry wins
    return {name: _state(has_value[name]) for name in names if name in has_value}, []


SOURCES: dict[str, Callable[[Mapping[str, str], Sequence[str], ProviderContext], Lookup]] = {
    "env": _from_env,
    "dir": _from_dir,
    "dotenv": _from_dotenv,
}


def _state(has_value: bool) -> Found:
    return Found.PRESENT if has_value else Found.EMPTY


def _probe_file(path: Path) -> Found | None:
    """Whether a secret file holds something, without keeping any of it.

    None when there is no such file; `_Unreadable` when something else is in the way.
    """
    try:
        info = path.stat()  # follows the ..data symbolic links of Kubernetes secret volumes
    except FileNotFoundError:
        if path.is_symlink():
            raise _Unreadable("broken symbolic link") from None
        return None
    except OSError as exc:
        raise _Unreadable(_reason(exc)) from None
    if stat.S_ISDIR(info.st_mode):
        raise _Unreadable("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise _Unreadable("not a regular file")
    return _state(info.st_size > 0 and not _is_blank(path))


def _is_blank(path: Path) -> bool:
    """True when the file holds only whitespace; stops at the first chunk that does not."""
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                if chunk.strip():
                    return False
    except OSError as exc:
        raise _Unreadable(f"cannot read: {_reason(exc)}") from None
    return True


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()
