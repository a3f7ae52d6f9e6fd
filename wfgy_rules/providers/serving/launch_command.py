"""Which serving engine a command starts, and the words and environment it hands it.

A launch is rarely the bare engine. `find_engine` looks through what stands in front of it:

* environment assignments and ``env [-i] [-u NAME] VAR=x …`` (their values join the
  environment the engine sees), ``exec``, ``nohup``, ``command``;
* a shell running a string: ``sh -c "…"`` / ``bash -lc "…"``: the string is split as the shell
  would (quotes, ``;``, ``&&``, ``||``, ``|``, ``&``, newlines; a backslash before a newline
  continues the line), ``export VAR=x`` and ``VAR=x`` before a command are applied,
  ``$VAR`` / ``${VAR}`` / ``${VAR:-default}`` are expanded, and the first command that
  starts an engine is the launch;
* a Python interpreter (``python``, ``python3.11``, ``/usr/bin/python3``) running ``-m MODULE``
  or an engine's entry script (``python /usr/local/bin/vllm serve …``);
* an executable named by path (``/opt/venv/bin/vllm``, ``./llama-server``);
* a process launcher (``torchrun``, ``accelerate launch``, ``deepspeed``, ``mpirun``,
  ``mpiexec``): the launch is found at the first word after it that starts one, so the
  launcher's own options (``--nproc_per_node 2``, ``-np 4``) need no table;
* shell keywords in a script (``if …; then vllm serve …; fi``): the command after them;
* the gate itself: ``wfgy-rules preflight [options] -- CMD`` runs CMD once its checks pass.

What counts as an engine launch is data: the ``launches`` of ``engines.yaml``. Anything else
(``python -m vllm_router.app``, ``genai-perf``, ``sleep infinity``) is not one: None.
`find_launch` walks the same way for another table (the servers without a flag table,
`wfgy_rules.providers.serving.servers`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wfgy_rules.providers.serving.engine_tables import Engine, Launch, engines

ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
PYTHON = re.compile(r"^python(?:\d+(?:\.\d+)*)?$")
SHELLS = {"sh", "bash", "dash", "zsh", "ash", "ksh"}
PASS_THROUGH = {"exec", "nohup", "command"}
LAUNCHERS = {"torchrun": None, "accelerate": "launch", "deepspeed": None, "mpirun": None, "mpiexec": None}  # -> subcommand
GATE = ("wfgy-rules", "preflight")
SHELL_KEYWORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "{", "time"}  # the command follows
PYTHON_VALUED_OPTIONS = {"-W", "-X", "-Q"}
OPERATORS = {";", "&&", "||", "|", "&", "(", ")", ";;", "|&", "\n"}
PUNCTUATION = set("();|&\n")  # runs of these split into operators; redirections stay words
EXPANSION = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
MAX_DEPTH = 4


@dataclass(frozen=True)
class Found:
    engine: Engine
    launch: Launch
    args: tuple[str, ...]  # the words after the engine's command (and subcommand)
    environ: Mapping[str, str]  # the environment the engine sees


# match(kind, word, rest, env) -> a result or None: kind is "module" (python -m WORD) or
# "executable" (WORD as written, a name or a path); rest are the words after it.
Matcher = Callable[[str, str, list[str], dict[str, str]], Any]


def find_engine(argv: Sequence[str] | str, environ: Mapping[str, str]) -> Found | None:
    """The engine ``argv`` starts, or None when it starts none we know. A string is a shell
    command line (a config's ``command: "vllm serve …"``), read as ``sh -c`` reads it."""
    return find_launch(argv, environ, _engine_launch)


def find_launch(argv: Sequence[str] | str, environ: Mapping[str, str], match: Matcher) -> Any:
    """What ``match`` finds where ``argv`` really starts a program (see the module docstring),
    or None."""
    walk = _Walk(match)
    if isinstance(argv, str):
        return walk.script(argv, dict(environ), 0)
    return walk.command([str(w) for w in argv], dict(environ), 0)


def _engine_launch(kind: str, word: str, rest: list[str], env: dict[str, str]) -> Found | None:
    """The first launch of any engine whose ``kind`` (module or executable) is ``word``."""
    name = word if kind == "module" else word.rsplit("/", 1)[-1]
    for engine in engines().values():
        for launch in engine.launches:
            if getattr(launch, kind) == name:
                found = _with_subcommand(engine, launch, rest, env)
                if found is not None:
                    return found
    return None


class _Walk:
    """One walk through the words in front of a program, asking ``match`` at each program."""

    def __init__(self, match: Matcher):
        self.match = match

    def command(self, words: list[str], env: dict[str, str], depth: int) -> Any:
        while words and ASSIGNMENT.match(words[0]):
            name, value = ASSIGNMENT.match(words[0]).groups()
            env[name] = value
            words = words[1:]
        if not words or depth > MAX_DEPTH:
            return None
        head = words[0].rsplit("/", 1)[-1]
        if words[0] in SHELL_KEYWORDS:
            return self.command(words[1:], env, depth)
        if head == "env":
            return self.env(words[1:], env, depth)
        if head in PASS_THROUGH:
            rest = words[1:]
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] == "-a" else rest[1:]  # exec -a NAME
            return self.command(rest, env, depth + 1)
        if head in SHELLS:
            script = _shell_script(words[1:])
            return self.script(script, env, depth + 1) if script is not None else None
        if PYTHON.match(head):
            return self.python(words[1:], env, depth)
        if head in LAUNCHERS:
            return self.launched(words[1:], LAUNCHERS[head], env, depth)
        if (head, words[1] if len(words) > 1 else None) == GATE:
            return self.gated(words[2:], env, depth)
        return self.match("executable", words[0], words[1:], env)

    def env(self, words: list[str], env: dict[str, str], depth: int) -> Any:
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
        return self.command(words, env, depth + 1)

    def script(self, script: str, env: dict[str, str], depth: int) -> Any:
        try:
            lexer = shlex.shlex(script.replace("\\\n", ""), posix=True, punctuation_chars="();<>|&\n")
            lexer.whitespace = " \t\r"  # a newline ends a command, as ; does
            lexer.whitespace_split = True
            tokens = [part for token in lexer for part in _operators(token)]
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
            found = self.command(words, dict(env), depth)
            if found is not None:
                return found
        return None

    def python(self, words: list[str], env: dict[str, str], depth: int) -> Any:
        index = 0
        while index < len(words):
            word = words[index]
            if word == "-m" or (word.startswith("-m") and len(word) > 2):
                module = word[2:] or (words[index + 1] if index + 1 < len(words) else "")
                rest = words[index + (1 if word != "-m" else 2):]
                return self.match("module", module, rest, env)
            if word == "-c" or word == "-":
                return None
            if word in PYTHON_VALUED_OPTIONS:
                index += 2
                continue
            if word.startswith("-"):
                index += 1
                continue
            return self.match("executable", word, words[index + 1:], env)  # python SCRIPT
        return None

    def launched(self, words: list[str], subcommand: str | None, env: dict[str, str], depth: int) -> Any:
        """``torchrun [options] SCRIPT|-m MODULE …``, ``mpirun [options] CMD …``: the launch at
        the first word that starts one (a script or module is run by Python)."""
        if subcommand is not None:
            if not words or words[0] != subcommand:
                return None
            words = words[1:]
        for start in range(len(words)):
            rest = words[start:]
            found = self.python(rest, env, depth) if rest[0] == "-m" or rest[0].endswith(".py") else None
            if found is None and not rest[0].startswith("-"):
                found = self.command(rest, dict(env), depth + 1)
            if found is not None:
                return found
        return None

    def gated(self, words: list[str], env: dict[str, str], depth: int) -> Any:
        """``wfgy-rules preflight [options] -- CMD``: CMD, once the gate's checks pass."""
        if "--" not in words:
            return None
        return self.command(words[words.index("--") + 1:], env, depth + 1)


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


def _operators(token: str) -> list[str]:
    """A run of punctuation shlex keeps together (``);``, ``)&&``) as the shell's operators."""
    if token in OPERATORS or not token or not set(token) <= PUNCTUATION:
        return [token]
    parts = []
    while token:
        size = 2 if token[:2] in OPERATORS else 1
        parts.append(token[:size])
        token = token[size:]
    return parts


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


def _with_subcommand(engine: Engine, launch: Launch, rest: list[str], env: dict[str, str]) -> Found | None:
    if launch.subcommand is None:
        return Found(engine, launch, tuple(rest), env)
    if rest and rest[0] == launch.subcommand:
        return Found(engine, launch, tuple(rest[1:]), env)
    return None
