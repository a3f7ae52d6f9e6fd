"""The path settings of ``wfgy.yaml``: ``${VAR}`` in them, and where they are relative to.

One config serves CI and the pod when the paths that differ come from the environment::

    providers:
      runtime: {model_dir: "${MODEL_DIR:-models/tiny-llama}"}   # CI: the small fixture
      secrets:
        sources: [{type: dir, path: "${SECRETS_DIR:-/var/run/secrets/app}"}]

``${NAME}`` is the variable's value; ``${NAME:-default}`` is its value, or the default,
taken as written up to the first ``}``, when it is unset or empty (as in a shell; ``${NAME:-}``
allows an empty value); ``$$`` is one ``$``. Any other ``$`` is an error: ``$NAME`` without
braces, ``${NAME-x}``, ``${NAME:?x}``, a nested ``${…}`` in a default. A variable without a
default that is unset or empty (an empty path would name the config's own directory) is an
error naming the variable and where it is written::

    wfgy.pod.yaml:4:27: providers.runtime.model_dir: ${MODEL_DIR} is not set and has no default (write ${MODEL_DIR:-DEFAULT})

Only the settings of `PATH_SETTINGS` are expanded, never a rule's expression, a message, a
name or any other value. A path may appear in facts and messages, so a variable that may hold
a credential is refused, naming only the variable: declared secret (``providers.secrets.
required``, a ``secret: true`` entry of ``providers.env.declared``), named like one
(``*_TOKEN``, ``*_KEY``…) or holding one (`wfgy_rules.providers.env.credentials`, the
test ``env.expose`` uses).

A relative path is relative to the file that wrote it, after expansion: a setting a base
config (``extends:``) wrote is rewritten relative to the config that was read (``models``
in ``../wfgy.base.yaml`` becomes ``../models``), so every reader resolves it as before. A
``prompts.syntax`` glob is rewritten the way prompt files are shown (relative to the config
read when under its directory, else absolute), so it still matches them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from wfgy_rules.documents.yamlio import Document, JsonPath
from wfgy_rules.errors import Problem, ProviderError
from wfgy_rules.providers.env.credentials import check_exposable
from wfgy_rules.providers.file_globs import shown_under

ANY = object()  # any key of a mapping, any index of a list

PATH_SETTINGS: tuple[JsonPath, ...] = (
    ("policies", ANY),
    ("providers", "env", "declared"),
    ("providers", "file", "files", ANY),
    ("providers", "kubernetes", "paths", ANY),
    ("providers", "kubernetes", "declared_env"),
    ("providers", "model_card", "path"),
    ("providers", "prompts", "paths", ANY),
    ("providers", "prompts", "vars"),
    ("providers", "runtime", "model_dir"),
    ("providers", "secrets", "sources", ANY, "path"),
    ("providers", "serving", "model_dir"),
)
GLOB_KEYS: JsonPath = ("providers", "prompts", "syntax")  # a mapping whose keys are globs
NOT_PATHS = ("builtin", "-")  # the shipped packs (and builtin:NAME); stdin for manifests

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(r"\$\{(" + _NAME + r")(?::-([^}]*))?\}")
_UNBRACED = re.compile(r"\$(" + _NAME + ")")

# (JSON path) -> (the document that wrote the value there, that document's directory)
Origin = Callable[[JsonPath], tuple[Document, Path]]


class Unexpanded(Exception):
    """Why a value cannot be expanded; the message names variables, never their values."""


def expand_paths(data: dict[str, Any], origin: Origin, top_dir: Path, environ: Mapping[str, str]) -> list[Problem]:
    """Expand ``${…}`` in every path setting of ``data`` (a merged config, changed in place)
    and rewrite the relative paths a base wrote relative to ``top_dir``; the problems, each
    at the value in the file that wrote it."""
    problems = []
    secret_names = _declared_secrets(data)
    for pattern in PATH_SETTINGS:
        for where, value in list(_settings(data, pattern)):
            if not isinstance(value, str):
                continue  # the schema reports it
            document, directory = origin(where)
            try:
                value = expand(value, environ, secret_names)
            except Unexpanded as exc:
                problems.append(document.problem(where, str(exc)))
                continue
            if not _names_no_path(value):
                value = _relative_to(value, directory, top_dir)
            _parent(data, where)[where[-1]] = value
    globs = _at(data, GLOB_KEYS)
    if isinstance(globs, dict):
        _parent(data, GLOB_KEYS)[GLOB_KEYS[-1]] = {
            _shown_from(key, origin((*GLOB_KEYS, key))[1], top_dir): syntax for key, syntax in globs.items()
        }
    return problems


def expand(text: str, environ: Mapping[str, str], secret_names: frozenset[str] = frozenset()) -> str:
    """``text`` with ``${NAME}``, ``${NAME:-default}`` and ``$$`` replaced (see the module
    docstring); `Unexpanded` for an unset variable, a secret or a ``$`` of another form."""
    out = []
    position = 0
    while (dollar := text.find("$", position)) >= 0:
        out.append(text[position:dollar])
        if text.startswith("$$", dollar):
            out.append("$")
            position = dollar + 2
            continue
        reference = _REFERENCE.match(text, dollar)
        if reference is None:
            raise Unexpanded(_malformed(text, dollar))
        name, default = reference.groups()
        out.append(_value(name, default, environ, secret_names))
        position = reference.end()
    out.append(text[position:])
    return "".join(out)


def _value(name: str, default: str | None, environ: Mapping[str, str], secret_names: frozenset[str]) -> str:
    if default is not None and "${" in default:
        raise Unexpanded(f"${{{name}:-…}}: a default is taken as written; a ${{…}} inside it is not expanded")
    value = environ.get(name)
    if default is not None and not value:
        return default
    if not value:
        raise Unexpanded(f"${{{name}}} is {'empty' if value == '' else 'not set'} and has no default (write ${{{name}:-DEFAULT}})")
    try:
        check_exposable(name, value, secret_names)
    except ProviderError:
        raise Unexpanded(f"${{{name}}}: {name} is, or may hold, a secret; a secret never goes into a path") from None
    return value


def _malformed(text: str, dollar: int) -> str:
    unbraced = _UNBRACED.match(text, dollar)
    if unbraced:
        return f"${unbraced.group(1)}: write ${{{unbraced.group(1)}}} (only the braced form is expanded), or $$ for a literal $"
    if text.startswith("${", dollar):
        return "a ${…} that is not ${NAME} or ${NAME:-default} (write $$ for a literal $)"
    return "a lone $ (write $$ for a literal $)"


def _declared_secrets(data: dict[str, Any]) -> frozenset[str]:
    """Names the config declares secret: ``secrets.required`` and ``secret: true`` entries of
    ``env.declared`` (a file of declarations is not read here)."""
    required = _at(data, ("providers", "secrets", "required"))
    declared = _at(data, ("providers", "env", "declared"))
    names = {name for name in required if isinstance(name, str)} if isinstance(required, list) else set()
    if isinstance(declared, list):
        names.update(e["name"] for e in declared if isinstance(e, dict) and e.get("secret") is True and isinstance(e.get("name"), str))
    return frozenset(names)


def _names_no_path(value: str) -> bool:
    return value in NOT_PATHS or value.startswith("builtin:")


def _relative_to(value: str, directory: Path, top_dir: Path) -> str:
    """A path relative to ``directory``, relative to ``top_dir`` instead (POSIX)."""
    if os.path.isabs(value) or directory == top_dir:
        return value
    return os.path.relpath(os.path.join(directory, value), top_dir).replace(os.sep, "/")


def _shown_from(glob: str, directory: Path, top_dir: Path) -> str:
    """A glob relative to ``directory`` as prompt files are shown from ``top_dir``."""
    if os.path.isabs(glob) or directory == top_dir:
        return glob
    return shown_under(os.path.normpath(os.path.join(directory, glob)), os.path.join(top_dir, ""))


def _settings(data: Any, pattern: JsonPath, prefix: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    """(JSON path, value) of every value ``pattern`` (with `ANY`) names in ``data``."""
    if not pattern:
        yield prefix, data
        return
    head, rest = pattern[0], pattern[1:]
    if head is ANY:
        items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    else:
        items = [(head, data[head])] if isinstance(data, dict) and head in data else []
    for key, value in items:
        yield from _settings(value, rest, (*prefix, key))


def _at(data: Any, where: JsonPath) -> Any:
    for key in where:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _parent(data: Any, where: JsonPath) -> Any:
    for key in where[:-1]:
        data = data[key]
    return data
