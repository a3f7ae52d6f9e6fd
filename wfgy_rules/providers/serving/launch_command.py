"""Which serving engine a command starts, and the words and environment it hands it.

A launch is rarely the bare engine. `find_engine` looks through what stands in front of it:

* environment assignments and ``env [-i] [-u NAME] VAR=x …`` (their values join the
  environment the engine sees), ``exec``, ``nohup``, ``command``;
* a shell running a string: ``sh -c "…"`` / ``bash -lc "…"``: the string is split as the shell
  would (quotes, ``;``, ``&&``, ``||``, ``|``, ``&``), ``export VAR=x`` and ``VAR=x`` before a
  command are applied, ``$VAR`` / ``${VAR}`` / ``${VAR:-default}`` are expanded, and the first
  command that starts an engine is the launch;
* a Python interpreter (``python``, ``python3.11``, ``/usr/bin/python3``) running ``-m MODULE``
  or an engine's entry script (``python /usr/local/bin/vllm serve …``);
* an executable named by path (``/opt/venv/bin/vllm``, ``./llama-server``).

What counts as an engine launch is data: the ``launches`` of ``engines.yaml``. Anything else
(``python -m vllm_router.app``, ``genai-perf``, ``sleep infinity``) is not one: None.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wfgy_rules.providers.serving.engine_tables import Engine, Launch, engines

ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
PYTHON = re.compile(r"^python(?:\d+(?:\.\d+)*)?$")
SHELLS = {"sh", "bash", "dash", "zsh", "ash", "ksh"}
PASS_THROUGH = {"exec", "nohup", "command"}
PYTHON_VALUED_OPTIONS = {"-W", "-X", "-Q"}
OPERATORS = {";", "&&", "||", "|", "&", "(", ")", ";;", "|&"}
EXPANSION = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
MAX_DEPTH = 4


@dataclass(frozen=True)
class Found:
    engine: Engine
    launch: Launch
    args: tuple[str, ...]  # the words after the engine's command (and subcommand)
    environ: Mapping[str, str]  # the environment the engine sees


def find_engine(argv: Sequence[str] | str, environ: Mapping[str, str]) -> Found | None:
    """The engine ``argv`` starts, or None when it starts none we know. A string is a shell
    command line (a config's ``command: "vllm serve …"``), read as ``sh -c`` reads it."""
    if isinstance(argv, str):
        return _script(argv, dict(environ), 0)
    return _command([str(w) for w in argv], dict(environ), 0)


def _command(words: list[str], env: dict[str, str], depth: int) -> Found | None:
    while words and ASSIGNMENT.match(words[0]):
        name, value = ASSIGNMENT.match(words[0]).groups()
        env[name] = value
        words = words[1:]
    if not words or depth > MAX_DEPTH:
        return None
    head = words[0].rsplit("/", 1)[-1]
    if head == "env":
        return _env(words[1:], env, depth)
    if head in PASS_THROUGH:
        rest = words[1:]
        while rest and rest[0].startswith("-"):
            rest = rest[2:] if rest[0] == "-a" else rest[1:]  # exec -a NAME
        return _command(rest, env, depth + 1)
    if head in SHELLS:
        script = _shell_script(words[1:])
        return _script(script, env, depth + 1) if script is not None else None
    if PYTHON.match(head):
        return _python(words[1:], env)
    return _executable(head, words[1:], env)


def _env(words: list[str], env: dict[str, str], depth: int) -> Found | None:
    while words and words[0].startswith("-") and words[0] != "-":
        option = words[0]
        if option in ("-i", "--ignore-environment"):
            env = {}
        elif option in ("-u", "--unset") and len(words) > 1:
            env.pop(words[1], None)
            words = words[1:]
        elif option.startswith("--unset="):
            env.pop(option.split("=", 1)[1], None)
        elif option in ("-C", "--chdir") and len(words) > 1:
            words = words[1:]
        elif option in ("-S", "--split-string") and len(words) > 1:
            words = _split(words[1]) + words[2:]
            continue
        elif option == "--":
            words = words[1:]
            break
        words = words[1:]
    return _command(words, env, depth + 1)


def _shell_script(words: list[str]) -> str | None:
    """The string of ``sh [options] -c STRING [arg0 …]`` (``-lc``, ``-ec`` clusters too)."""
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("-") and not word.startswith("--") and "c" in word[1:]:
            return words[index + 1] if index + 1 < len(words) else None
        if word in ("-o", "+o", "-O", "+O"):
            index += 2  # set -o pipefail: an option with its argument
            continue
        if not word.startswith(("-", "+")):
            return None  # sh SCRIPT_FILE: a file we do not read
        index += 1
    return None


def _script(script: str, env: dict[str, str], depth: int) -> Found | None:
    try:
        lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return None  # unbalanced quotes: the shell refuses it too
    shell_vars = dict(env)
    command: list[str] = []
    for token in tokens + [";"]:
        if token not in OPERATORS:
            command.append(token)
            continue
        words = [w for w in (_expand(t, shell_vars) for t in command) if w != ""]
        command = []
        if words and words[0] == "export":
            for word in words[1:]:
                match = ASSIGNMENT.match(word)
                if match:
                    shell_vars[match.group(1)] = match.group(2)
                    env[match.group(1)] = match.group(2)
            continue
        if words and all(ASSIGNMENT.match(w) for w in words):
            for word in words:
                name, value = ASSIGNMENT.match(word).groups()
                shell_vars[name] = value
            continue
        found = _command(words, dict(env), depth)
        if found is not None:
            return found
    return None


def _expand(token: str, variables: Mapping[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        if name in variables and (variables[name] != "" or match.group(2) is None):
            return variables[name]
        return match.group(2) or ""

    return EXPANSION.sub(value, token)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return []


def _python(words: list[str], env: dict[str, str]) -> Found | None:
    index = 0
    while index < len(words):
        word = words[index]
        if word == "-m" or (word.startswith("-m") and len(word) > 2):
            module = word[2:] or (words[index + 1] if index + 1 < len(words) else "")
            rest = words[index + (1 if word != "-m" else 2):]
            return _module(module, rest, env)
        if word == "-c" or word == "-":
            return None
        if word in PYTHON_VALUED_OPTIONS:
            index += 2
            continue
        if word.startswith("-"):
            index += 1
            continue
        return _executable(word.rsplit("/", 1)[-1], words[index + 1:], env)  # python SCRIPT
    return None


def _module(module: str, rest: list[str], env: dict[str, str]) -> Found | None:
    return _launch("module", module, rest, env)


def _executable(name: str, rest: list[str], env: dict[str, str]) -> Found | None:
    return _launch("executable", name, rest, env)


def _launch(kind: str, name: str, rest: list[str], env: dict[str, str]) -> Found | None:
    """The first launch of any engine whose ``kind`` (module or executable) is ``name``."""
    for engine in engines().values():
        for launch in engine.launches:
            if getattr(launch, kind) == name:
                found = _with_subcommand(engine, launch, rest, env)
                if found is not None:
                    return found
    return None


def _with_subcommand(engine: Engine, launch: Launch, rest: list[str], env: dict[str, str]) -> Found | None:
    if launch.subcommand is None:
        return Found(engine, launch, tuple(rest), env)
    if rest and rest[0] == launch.subcommand:
        return Found(engine, launch, tuple(rest[1:]), env)
    return None
