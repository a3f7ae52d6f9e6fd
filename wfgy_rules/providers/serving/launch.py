"""A serving engine's launch, read as facts: `parse_launch(argv, environ, read_file=None)`.

The command is what ``preflight`` will exec after ``--``, a config's ``command``, or a
Kubernetes container's command + args. `find_engine` (launch_command.py) finds the engine
behind shells, ``env`` and interpreters; this module then reads the engine's words the way
its own parser does, from the tables in ``engines.yaml``: ``--flag value`` and
``--flag=value``, short aliases (``-tp 2``), switches and their ``--no-``/``--disable-``
forms, unique prefixes where argparse allows them, a ``--config FILE.yaml`` (read through
``read_file``, parsed safely; the command line wins over it), then the engine's environment
variables (a flag wins over them), then the defaults of the engine version the tables were
read from.

    >>> parse_launch(["vllm", "serve", "./llama-3.1-8b", "-tp", "2", "--max-model-len=8k"], {})
    {'engine': 'vllm', 'via': 'vllm serve', 'model': './llama-3.1-8b', 'tensor_parallel_size': 2,
     'max_model_len': 8000, 'dtype': 'auto', 'gpu_memory_utilization': 1.0, ...,
     'explicit': ['max_model_len', 'model', 'tensor_parallel_size'], 'defaults_from': 'vllm 0.34.0'}

Every key is always present (see ``BLANK``). Beyond the serving contract: ``max_model_len_auto_fit``
(vLLM ``--max-model-len -1``/``auto``: derived, then fitted to memory at boot),
``gpu_layers`` (llama.cpp ``-ngl``), ``sources`` (where each explicit fact was set:
``flag --max-model-len``, ``env NUM_SHARD``, ``config serve.yaml:3``) and ``flags_given``
(the known flags the launch gives, by their first name, never with values). A command that starts
no known engine gives ``engine: null`` and the blank values. Nothing raises: a bad value, a
missing one or an unreadable config file is a line in ``errors``; a flag the table does not
know is listed by name in ``unknown_flags``. The value of a flag or variable that carries a
secret (``--api-key``, ``--hf-token``, TGI's ``API_KEY`` …) is never read into the result,
and no error quotes a value that could be a credential.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from wfgy_rules.errors import PolicyError
from wfgy_rules.documents.yamlio import load_text
from wfgy_rules.providers.env.credentials import holds_credential, looks_secret
from wfgy_rules.providers.serving.engine_tables import Engine, Fact, Flag
from wfgy_rules.providers.serving.launch_command import Found, find_engine
from wfgy_rules.providers.serving.launch_defaults import apply_defaults
from wfgy_rules.providers.serving.launch_values import AUTO, convert, shown

BLANK: dict[str, Any] = {
    "engine": None, "via": None, "gpu_only": None, "can_serve_on_cpu": None, "model": None,
    "tensor_parallel_size": 1, "pipeline_parallel_size": 1, "data_parallel_size": 1,
    "max_model_len": None, "max_model_len_auto_fit": False, "dtype": "auto", "kv_cache_dtype": "auto",
    "quantization": None, "gpu_memory_utilization": None, "max_num_seqs": None,
    "max_num_batched_tokens": None, "trust_remote_code": False, "chat_template": None,
    "attention_backend": None, "enforce_eager": False, "allow_long_max_model_len": False,
    "gpu_layers": None, "explicit": [], "sources": {}, "flags_given": [], "unknown_flags": [], "errors": [],
    "defaults_from": None, "config_file": None,
}
NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")
ReadFile = Callable[[str], "str | None"]


def parse_launch(argv: Sequence[str] | str, environ: Mapping[str, str], read_file: ReadFile | None = None) -> dict[str, Any]:
    """The launch facts of ``argv`` run with ``environ`` (see the module docstring); a string
    ``argv`` is a shell command line."""
    found = find_engine(argv, environ)
    result = {key: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v) for key, v in BLANK.items()}
    if found is None:
        return result
    reading = _Reading(found)
    reading.read_config(read_file)
    reading.read_words(list(found.args), "flag")
    reading.read_environment()
    return reading.result(result)


class _Reading:
    """The words of one engine launch, read into fact values with where each came from."""

    def __init__(self, found: Found):
        self.found = found
        self.engine: Engine = found.engine
        self.facts: dict[str, Fact] = {}  # flag spelling (names and negations) -> fact
        for fact in self.engine.facts:
            for name in fact.flags:
                for spelling in self.engine.flags[name].names + self.engine.flags[name].negations:
                    self.facts.setdefault(spelling, fact)
        self.values: dict[str, tuple[Any, str]] = {}  # fact -> (value, where)
        self.given: dict[str, str] = {}  # canonical flag -> last raw value ("" for a switch)
        self.spellings: set[str] = set()  # the spellings used, normalised
        self.positionals: list[str] = []
        self.unknown: set[str] = set()
        self.long_names = sorted(s for s in self.engine.flags if s.startswith("--"))  # for argparse's unique prefixes
        self.errors: list[str] = []
        self.config_file: str | None = None

    # -- words -------------------------------------------------------------------------------

    def read_words(self, words: list[str], where: str) -> None:
        index = 0
        while index < len(words):
            word = words[index]
            index += 1
            if word == "--":
                self.positionals.extend(words[index:])
                return
            if not _is_option(word):
                self.positionals.append(word)
                continue
            word = self._attached(word)
            name, inline = self._split(word)
            flag, spelling = self._lookup(name)
            if flag is None:
                index = self._unknown(word, name, inline, words, index)
                continue
            values, index = self._take(flag, spelling, inline, words, index)
            if values is None or spelling in self.engine.secret_flags or set(flag.names) & self.engine.secret_flags:
                continue
            self.given[flag.names[0]] = values[-1] if values else ""
            self.spellings.add(spelling)
            fact = self.facts.get(spelling)
            if fact is not None:
                self._record(fact, spelling, values, where)

    def _attached(self, word: str) -> str:
        """vLLM's ``-O3`` / ``-O 3`` are ``--optimization-level 3``."""
        for short, long in (self.engine.dialect.attached or {}).items():
            if word == short:
                return long
            if word.startswith(short):
                return f"{long}={word[len(short):].lstrip('=')}"
        return word

    def _split(self, word: str) -> tuple[str, str | None]:
        name, sep, inline = word.partition("=")
        if not sep:
            return self._normalise(word), None
        if not self.engine.dialect.equals:
            flag, _ = self._lookup(self._normalise(name))
            if flag is not None:
                self.errors.append(f"{self.found.launch.via} reads the value of {name} from the next word; {name}=… is not accepted")
            return word, None
        return self._normalise(name), inline

    def _normalise(self, name: str) -> str:
        if self.engine.dialect.underscores and name.startswith("--"):
            head, dot, rest = name.partition(".")
            return head.replace("_", "-") + dot + rest
        return name

    def _lookup(self, name: str) -> tuple[Flag | None, str]:
        base = name.split(".", 1)[0] if self.engine.dialect.dotted and name.startswith("--") else name
        flag = self.engine.flags.get(base)
        if flag is not None or not (self.engine.dialect.abbreviations and base.startswith("--")):
            return flag, base
        start = bisect.bisect_left(self.long_names, base)  # the long names starting with base are one run
        matches = list(itertools.takewhile(lambda s: s.startswith(base), itertools.islice(self.long_names, start, start + 2)))
        if len(matches) == 1:
            return self.engine.flags[matches[0]], matches[0]
        return None, base

    def _take(self, flag: Flag, spelling: str, inline: str | None, words: list[str], index: int):
        """The words ``flag`` consumes: (values, next index); values None on an error."""
        if flag.takes == "none":
            if inline is not None:
                self.errors.append(f"{spelling} takes no value")
                return None, index
            return [], index
        if inline is not None:
            taken = [inline]
        else:
            taken = []
            while index < len(words) and not _is_option(words[index]) and words[index] != "--":
                taken.append(words[index])
                index += 1
                if flag.takes in ("value", "optional"):
                    break
        if not taken and flag.takes in ("value", "list"):
            self.errors.append(f"{spelling} expects a value")
            return None, index
        return taken, index

    def _unknown(self, word: str, name: str, inline: str | None, words: list[str], index: int) -> int:
        self.unknown.add(word.split("=", 1)[0])
        if inline is not None or "=" in word or index >= len(words) or _is_option(words[index]):
            return index
        launch = self.found.launch
        if not launch.model_positional or self.positionals or "model" in self.values or looks_secret(name.replace("-", "_")):
            return index + 1  # its value, most likely
        return index

    def _record(self, fact: Fact, spelling: str, values: list[str], where: str) -> None:
        shown_as = spelling if where == "flag" else f"{spelling} ({where})"
        if fact.type == "bool":
            value: Any = spelling not in self.engine.flags[fact.flags[0]].negations
        elif not values:
            return
        else:
            value, error = convert(fact, values[-1], shown_as)
            if error:
                self.errors.append(error)
                return
        self.values[fact.name] = (value, f"flag {spelling}" if where == "flag" else where)

    # -- the --config file -------------------------------------------------------------------

    def read_config(self, read_file: ReadFile | None) -> None:
        flag = self.engine.dialect.config_flag
        args = list(self.found.args)
        if flag is None:
            return
        if any(a.startswith(flag + "=") for a in args):
            self.errors.append(f"{self.found.launch.via} loads {flag} FILE only as two words; {flag}=FILE is not read")
        if args.count(flag) > 1:
            self.errors.append(f"{flag} is given more than once")
        if flag not in args or args.index(flag) + 1 >= len(args):
            return
        path = args[args.index(flag) + 1]
        self.config_file = path
        if path.rsplit(".", 1)[-1] not in ("yaml", "yml"):
            self.errors.append(f"{flag} {path}: the engine reads only .yaml/.yml config files")
            return
        text = read_file(path) if read_file is not None else None
        if text is None:
            self.errors.append(f"{flag} {path}: the file cannot be read")
            return
        try:
            document = load_text(text, path)
        except PolicyError as error:
            self.errors.extend(error.lines())
            return
        if not isinstance(document.data, dict):
            self.errors.append(f"{path}: a config file holds a mapping of flag names to values")
            return
        for key, value in document.data.items():
            line, _ = document.locate((key,), key=True)
            self.read_words(self._config_words(str(key), value), f"config {path}:{line}")

    def _config_words(self, key: str, value: Any) -> list[str]:
        """``key: value`` as the engine turns it into words (vLLM's load_config_file, SGLang's
        ConfigArgumentMerger)."""
        name = "--" + key
        if isinstance(value, bool):
            if value:
                return [name]
            negation = "--no-" + key
            return [negation] if self.engine.dialect.config_false == "negation" and negation in self.engine.flags else []
        if isinstance(value, list):
            return [name, *(str(v) for v in value)] if value else []
        if isinstance(value, dict):
            return [name, json.dumps(value)]
        return [name, str(value)]

    # -- environment -------------------------------------------------------------------------

    def read_environment(self) -> None:
        environ = self.found.environ
        for fact in self.engine.facts:
            name = next((n for n in fact.env if n in environ), None)
            if name is None or fact.name in self.values or name in self.engine.secret_env:
                continue
            if fact.type == "bool":
                falsy = self.engine.env_falsy or ("", "0", "false")
                self.values[fact.name] = (environ[name].strip().lower() not in falsy, f"env {name}")
                continue
            value, error = convert(fact, environ[name], name)
            if error:
                self.errors.append(error)
            else:
                self.values[fact.name] = (value, f"env {name}")
        for env_fact in self.engine.env:
            if env_fact.name not in environ or env_fact.fact in self.values:
                continue
            raw = environ[env_fact.name]
            if env_fact.type == "bool":
                folded = raw.strip().lower()
                if env_fact.falsy is not None and folded not in env_fact.truthy + env_fact.falsy:
                    self.errors.append(f"{env_fact.name} expects one of {', '.join(env_fact.truthy + env_fact.falsy)}, got {shown(raw)}")
                    continue
                value: Any = folded in (env_fact.truthy or ())
            else:
                value = raw.strip().upper() if env_fact.case == "upper" else raw.strip().lower() if env_fact.case == "lower" else raw
            self.values[env_fact.fact] = (value, f"env {env_fact.name}")

    # -- the result --------------------------------------------------------------------------

    def result(self, result: dict[str, Any]) -> dict[str, Any]:
        self._model()
        engine = self.engine
        result.update(
            engine=engine.name, via=self.found.launch.via, gpu_only=engine.gpu_only,
            can_serve_on_cpu=engine.can_serve_on_cpu, defaults_from=engine.defaults_from,
            config_file=self.config_file,
        )
        apply_defaults(result, engine, self.given, self.spellings, self.found.environ, set(self.values), self.errors)
        for fact, (value, where) in sorted(self.values.items()):
            if fact == "max_model_len" and value == AUTO:
                result["max_model_len"], result["max_model_len_auto_fit"] = None, True
            else:
                result[fact] = value
            result["sources"][fact] = where
        result["explicit"] = sorted(self.values)
        result["flags_given"] = sorted(self.given)  # names only: known flags given, secret ones left out
        result["unknown_flags"] = sorted(self.unknown)
        result["errors"] = self.errors
        return result

    def _model(self) -> None:
        launch = self.found.launch
        extra = self.positionals
        if launch.model_positional and extra and "model" not in self.values:
            self.values["model"] = (extra[0], "positional")
            extra = extra[1:]
        if extra and not launch.positional_ignored:
            self.errors.append(f"{launch.via} does not take {len(extra)} more positional argument(s)")
        model = self.values.get("model")
        if model is not None and model[0] is not None and holds_credential(str(model[0])):
            del self.values["model"]
            self.errors.append("the model argument carries a credential; it is not shown")


def _is_option(word: str) -> bool:
    return word.startswith("-") and word != "-" and not NEGATIVE_NUMBER.match(word)
