"""The serving engines and what they require of the GPU, as data: ``engines.yaml`` and
``gpu_requirements.yaml`` beside this module, loaded once and checked as they load.

``engines()`` gives each engine (vllm, sglang, tgi, llama.cpp): how it is launched, how its
parser reads words, the flags and env variables behind each normalised launch fact with their
defaults, the flags that carry secrets, and every option its parser defines. ``requirements()``
gives vLLM's minimum compute capabilities (bfloat16, each ``--quantization`` method, attention
backends), how ``--dtype auto`` resolves, the tensor-parallel rules and the ``max_model_len``
and ``gpu_memory_utilization`` defaults, each per vLLM version with its source.

Both files are shipped in the package; a broken one is a packaging bug, so loading raises
`TableError` naming the file and the entry (the tests load both). Every entry carries its
``source``; a fact's flag must be one the engine's parser defines, with a matching arity.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from wfgy_rules.documents.yamlio import load_file

HERE = Path(__file__).parent
ENGINES_PATH = HERE / "engines.yaml"
REQUIREMENTS_PATH = HERE / "gpu_requirements.yaml"
FACT_TYPES = {"int", "vllm_human_int", "vllm_human_int_or_auto", "sglang_human_int", "float", "str", "bool"}
TAKES = {"none", "value", "optional", "list"}


class TableError(ValueError):
    """A shipped table is malformed (a packaging bug)."""


@dataclass(frozen=True)
class Flag:
    names: tuple[str, ...]
    takes: str  # none | value | optional | list
    negations: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Fact:
    """The flags (and env variables) that set one launch fact, and its default."""

    name: str
    flags: tuple[str, ...]
    env: tuple[str, ...]
    type: str
    default: Any
    source: str
    choices: Mapping[str, str] | None = None
    case: str | None = None  # lower | upper
    null_values: tuple[str, ...] = ()
    minimum: float | None = None
    above: float | None = None
    maximum: float | None = None
    required: bool = False
    default_unless: tuple[tuple[str, ...], Any] | None = None  # (flags, value)
    default_rule: str | None = None  # a rule launch.py applies when the fact is unset


@dataclass(frozen=True)
class EnvFact:
    name: str
    fact: str
    type: str
    source: str
    case: str | None = None
    truthy: tuple[str, ...] | None = None
    falsy: tuple[str, ...] | None = None
    read_by: tuple[str, ...] = ()
    not_read_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Launch:
    via: str
    executable: str | None
    module: str | None
    subcommand: str | None
    model_positional: bool
    source: str
    positional_ignored: bool = False  # api_server parses a bare word and ignores it


@dataclass(frozen=True)
class Dialect:
    underscores: bool
    abbreviations: bool
    equals: bool
    config_flag: str | None
    config_false: str | None = None  # a false boolean in --config: "negation" (--no-KEY) or "omit"
    attached: Mapping[str, str] | None = None  # short options written with their value (-O3)
    dotted: bool = False  # --json-flag.key value sets one key of a JSON flag (vLLM)


@dataclass(frozen=True)
class Engine:
    name: str
    version: str
    read_from: str
    gpu_only: bool
    can_serve_on_cpu: bool
    launches: tuple[Launch, ...]
    dialect: Dialect
    facts: tuple[Fact, ...]
    env: tuple[EnvFact, ...]
    env_falsy: tuple[str, ...] | None  # how a switch's env variable reads as false (TGI/clap)
    secret_flags: frozenset[str]
    secret_env: frozenset[str]
    flags: Mapping[str, Flag]  # every spelling (names and negations) -> its flag

    @property
    def defaults_from(self) -> str:
        return f"{self.name} {self.version}"


@functools.lru_cache(maxsize=1)
def engines() -> Mapping[str, Engine]:
    """The engines of ``engines.yaml``, by name."""
    data = load_file(ENGINES_PATH).data
    return {name: _engine(name, entry) for name, entry in _get(data, "engines", dict, "").items()}


@functools.lru_cache(maxsize=1)
def requirements() -> Mapping[str, Any]:
    """``gpu_requirements.yaml`` as loaded (every entry checked to carry a source and version)."""
    data = load_file(REQUIREMENTS_PATH).data
    table = REQUIREMENTS_PATH.name
    versions = _get(data, "versions", list, "", table)
    sections = {key: rows for key, rows in data.items() if isinstance(rows, list) and key != "versions"}
    sections["auto_dtype.rules"] = _get(_get(data, "auto_dtype", dict, "", table), "rules", list, "auto_dtype", table)
    for section, rows in sections.items():
        for index, row in enumerate(rows):
            where = f"{section}[{index}]"
            _get(row, "source", str, where, table)
            if _get(row, "vllm", str, where, table) not in versions:
                raise TableError(f"{table}: {where}: vllm {row['vllm']} is not in versions")
    for index, row in enumerate(data["quantization"]):
        _get(row, "min_capability", int, f"quantization[{index}]", table)
    return data


def min_capability(method: str, vllm_version: str | None = None) -> tuple[int, str] | None:
    """vLLM's minimum compute capability (80 = 8.0) for ``--quantization METHOD`` and its
    source. A tabled ``vllm_version`` gives its own value (None when that vLLM has no such
    method); a version between two tabled ones the smaller of their values, one newer than
    all the newest's; no version (or an older or unreadable one) the smallest tabled value.
    So a gate never refuses what the vLLM in question may accept."""
    rows = [row for row in requirements()["quantization"] if row["method"] == method]
    versions = _bracket(vllm_version)
    if versions:
        rows = [row for row in rows if row["vllm"] in versions]
        if len(versions) == 1 and not rows:
            return None
    if not rows:
        return None
    low = min(rows, key=lambda row: row["min_capability"])
    return low["min_capability"], low["source"]


def _bracket(version: str | None) -> tuple[str, ...]:
    """The tabled vLLM versions that bound ``version``: itself when tabled, the newest when
    newer than all, the two around it otherwise; () when unknown or older than all."""
    tabled = sorted(requirements()["versions"], key=Version)
    try:
        wanted = Version(version) if version is not None else None
    except InvalidVersion:
        wanted = None
    if wanted is None or wanted < Version(tabled[0]):
        return ()
    exact = [v for v in tabled if Version(v) == wanted]
    if exact:
        return (exact[0],)
    below = [v for v in tabled if Version(v) < wanted]
    above = [v for v in tabled if Version(v) > wanted]
    return (below[-1],) + ((above[0],) if above else ())


def _engine(name: str, entry: Any) -> Engine:
    where = f"engines.{name}"
    flags = _flags(_get(entry, "flags", list, where), where)
    facts = tuple(_fact(row, f"{where}.facts[{i}]", flags) for i, row in enumerate(_get(entry, "facts", list, where)))
    env = tuple(_env_fact(row, f"{where}.env[{i}]") for i, row in enumerate(_get(entry, "env", list, where)))
    secrets = _get(entry, "secrets", dict, where)
    for flag in _get(secrets, "flags", list, f"{where}.secrets"):
        if flag not in flags or flags[flag].takes == "none":
            raise TableError(f"{ENGINES_PATH.name}: {where}.secrets: {flag} is not a valued flag of {name}")
    dialect = _get(entry, "dialect", dict, where)
    env_bool = entry.get("env_bool")
    return Engine(
        name=name,
        version=str(_get(entry, "version", str, where)),
        read_from=_get(entry, "read_from", str, where),
        gpu_only=_get(entry, "gpu_only", bool, where),
        can_serve_on_cpu=_get(entry, "can_serve_on_cpu", bool, where),
        launches=tuple(_launch(row, f"{where}.launches[{i}]") for i, row in enumerate(_get(entry, "launches", list, where))),
        dialect=Dialect(
            underscores=_get(dialect, "underscores", bool, f"{where}.dialect"),
            abbreviations=_get(dialect, "abbreviations", bool, f"{where}.dialect"),
            equals=_get(dialect, "equals", bool, f"{where}.dialect"),
            config_flag=dialect.get("config_flag"),
            config_false=dialect.get("config_false"),
            attached=dialect.get("attached"),
            dotted=bool(dialect.get("dotted", False)),
        ),
        facts=facts,
        env=env,
        env_falsy=tuple(env_bool["falsy"]) if env_bool else None,
        secret_flags=frozenset(secrets["flags"]),
        secret_env=frozenset(_get(secrets, "env", list, f"{where}.secrets")),
        flags=flags,
    )


def _flags(rows: list, where: str) -> dict[str, Flag]:
    flags: dict[str, Flag] = {}
    for index, row in enumerate(rows):
        here = f"{where}.flags[{index}]"
        takes = _get(row, "takes", str, here)
        if takes not in TAKES:
            raise TableError(f"{ENGINES_PATH.name}: {here}: takes must be one of {sorted(TAKES)}")
        flag = Flag(tuple(_get(row, "names", list, here)), takes, tuple(row.get("negations", ())), _get(row, "source", str, here))
        for spelling in flag.names + flag.negations:
            flags.setdefault(spelling, flag)  # clap lets two options share a short name; the first wins
    return flags


def _fact(row: Any, where: str, flags: Mapping[str, Flag]) -> Fact:
    fact_type = _get(row, "type", str, where)
    if fact_type not in FACT_TYPES:
        raise TableError(f"{ENGINES_PATH.name}: {where}: type must be one of {sorted(FACT_TYPES)}")
    names = tuple(_get(row, "flags", list, where))
    for name in names:
        flag = flags.get(name)
        if flag is None:
            raise TableError(f"{ENGINES_PATH.name}: {where}: {name} is not among the engine's flags")
        if (flag.takes == "none") != (fact_type == "bool"):
            raise TableError(f"{ENGINES_PATH.name}: {where}: {name} takes {flag.takes}, the fact is {fact_type}")
    _get(row, "default_source", str, where)
    unless = row.get("default_unless")
    return Fact(
        name=_get(row, "fact", str, where),
        flags=names,
        env=tuple(row.get("env", ())),
        type=fact_type,
        default=row.get("default"),
        source=_get(row, "source", str, where),
        choices=row.get("choices"),
        case=row.get("case"),
        null_values=tuple(row.get("null_values", ())),
        minimum=row.get("min"),
        above=row.get("above"),
        maximum=row.get("max"),
        required=bool(row.get("required", False)),
        default_unless=(tuple(unless["flags"]), unless["value"]) if unless else None,
        default_rule=row.get("default_rule"),
    )


def _env_fact(row: Any, where: str) -> EnvFact:
    return EnvFact(
        name=_get(row, "name", str, where),
        fact=_get(row, "fact", str, where),
        type=_get(row, "type", str, where),
        source=_get(row, "source", str, where),
        case=row.get("case"),
        truthy=tuple(row["truthy"]) if "truthy" in row else None,
        falsy=tuple(row["falsy"]) if "falsy" in row else None,
        read_by=tuple(row.get("read_by", ())),
        not_read_by=tuple(row.get("not_read_by", ())),
    )


def _launch(row: Any, where: str) -> Launch:
    if not (row.get("executable") or row.get("module")):
        raise TableError(f"{ENGINES_PATH.name}: {where}: a launch needs an executable or a module")
    return Launch(
        via=_get(row, "via", str, where),
        executable=row.get("executable"),
        module=row.get("module"),
        subcommand=row.get("subcommand"),
        model_positional=_get(row, "model_positional", bool, where),
        source=_get(row, "source", str, where),
        positional_ignored=bool(row.get("positional_ignored", False)),
    )


def _get(mapping: Any, key: str, kind: type, where: str, table: str = ENGINES_PATH.name) -> Any:
    if not isinstance(mapping, dict) or key not in mapping or not isinstance(mapping[key], kind):
        raise TableError(f"{table}: {where or '(top)'}: needs {key!r} ({kind.__name__})")
    return mapping[key]
