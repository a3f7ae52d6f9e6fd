"""The project config ``wfgy.yaml`` (SPEC §4): which policies, how strict, provider settings,
per-rule overrides and waivers.

Without ``--config`` the nearest ``wfgy.yaml`` is used, looking in the working directory and
then each parent up to the repository root (the directory holding ``.git``) or the
filesystem root, as ruff and pre-commit users expect. Unless it is ``./wfgy.yaml``,
`locate_config` says which in one line for stderr (or that none was found and only the
built-in packs run with the defaults below), and points at a look-alike (``wgfy.yaml``, the
WFGY Problem Map's spelling, ``.wfgy.yaml``, ``wfgy.yml``) that would otherwise be ignored
in silence. The gates (``eval``, ``preflight``) do not run without a config: they exit 2
("no wfgy.yaml found here or above; run `wfgy-rules init`") unless ``--policy`` names what to
judge or ``--defaults`` asks for the built-in packs with default settings.

In a config file ``apiVersion``/``kind`` may be omitted (``wfgy-rules/v1`` / ``Config``
assumed), so a file holding only the settings the Problem Map documents
(``ignore_versions: [minor]``, ``secret_timeout: 90s``, ``cuda_probe: {mode: warn}``) is a
config; when given they are checked. Relative paths resolve against the config file's
directory. Each provider's section is validated against that provider's own schema at load
time.

A config may build on a base (``extends: wfgy.base.yaml``, `wfgy_rules.run.config_chain`)
and take its path settings from the environment (``model_dir: ${MODEL_DIR:-models}``,
`wfgy_rules.run.config_paths`), so CI and the pod share one set of rules.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from wfgy_rules.documents.schema import validate, validate_value
from wfgy_rules.documents.yamlio import Document
from wfgy_rules.errors import PolicyError, Problem, UsageError, did_you_mean
from wfgy_rules.model import Severity
from wfgy_rules.policy.durations import parse_duration
from wfgy_rules.providers import registry
from wfgy_rules.run.config_chain import EXTENDS, load_chain
from wfgy_rules.run.config_documents import document_problems

DEFAULT_CONFIG = "wfgy.yaml"
LOOKALIKES = ("wgfy.yaml", ".wfgy.yaml", "wfgy.yml", "wgfy.yml", ".wfgy.yml")  # never read: pointed out
DEFAULT_SECRET_TIMEOUT = 90.0


@dataclass(frozen=True)
class Config:
    """Settings of one run, after CLI flags were applied."""

    path: str | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    policies: tuple[str, ...] = ("builtin",)
    fail_on: Severity = Severity.low
    ignore_versions: tuple[str, ...] | None = None
    secret_timeout: float = DEFAULT_SECRET_TIMEOUT
    cuda_mode: str | None = None
    providers: dict[str, Any] = field(default_factory=dict)  # each provider's own settings
    provider_timeouts: dict[str, float] = field(default_factory=dict)  # providers.<name>.timeout, in seconds
    rules: dict[str, Any] = field(default_factory=dict)  # overrides; a remedy timeout already in seconds
    waivers: tuple[dict[str, Any], ...] = ()

    @property
    def secret_names(self) -> frozenset[str]:
        """Every name this config declares a secret (``providers.secrets.required``): no
        provider may publish its value, whatever else the config says (``env.expose``)."""
        return frozenset((self.providers.get("secrets") or {}).get("required") or ())
    document: Document | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class LocatedConfig:
    """The config a run reads, and the line that tells the user (None when ``--config`` named it).

    ``refusal`` is set when no config was found: why a gate (``eval``, ``preflight``) does not
    run without one, as one line for the error."""

    path: Path | None
    note: str | None = None
    refusal: str | None = None


def find_config(explicit: str | None) -> Path | None:
    """The config to read: ``--config``, else the nearest ``wfgy.yaml`` (`locate_config`), else none."""
    return locate_config(explicit).path


def locate_config(explicit: str | None, start: Path | None = None, defaults: bool = False) -> LocatedConfig:
    """``--config``, else the nearest ``wfgy.yaml`` from ``start`` (the working directory) up to
    the repository root, with the one line saying which (or that there is none); nothing is
    said of a ``./wfgy.yaml`` with no look-alike beside it.

    ``defaults`` is ``--defaults``: no config is read (the built-in packs, default settings),
    and a ``wfgy.yaml`` that would have been is named in the line, so it is not ignored in
    silence; with ``--config`` it is a `UsageError`."""
    if explicit:
        if defaults:
            raise UsageError(f"--defaults reads no config: drop --config {explicit} or --defaults")
        path = Path(explicit)
        if not path.exists():
            raise UsageError(f"{explicit}: no such config file", [Problem(explicit, "no such config file")])
        return LocatedConfig(path)
    cwd = (start or Path.cwd()).resolve()
    lookalikes: list[Path] = []
    for directory in (cwd, *cwd.parents):
        candidate = directory / DEFAULT_CONFIG
        if candidate.is_file() and defaults:
            return LocatedConfig(None, f"wfgy-rules: --defaults: {_shown(candidate, cwd)} is not read; the built-in packs run, with default settings")
        if candidate.is_file():  # ./wfgy.yaml, the expected case, goes without saying
            note = f"wfgy-rules: config {_shown(candidate, cwd)}" if directory != cwd or lookalikes else None
            return LocatedConfig(candidate, note and note + _ignored(lookalikes, cwd))
        lookalikes.extend(directory / name for name in LOOKALIKES if (directory / name).is_file())
        if (directory / ".git").exists():
            break
    where = "the repository root" if (directory / ".git").exists() else "the filesystem root"
    note = f"wfgy-rules: no {DEFAULT_CONFIG} in {_shown(cwd, cwd)} or above (up to {where}); only the built-in packs run, with default settings"
    refusal = f"no {DEFAULT_CONFIG} found here or above; run `wfgy-rules init`, or pass --defaults to judge the built-in packs with default settings"
    return LocatedConfig(None, note + _ignored(lookalikes, cwd), refusal + _ignored(lookalikes, cwd))


def _shown(path: Path, cwd: Path) -> str:
    return os.path.relpath(path, cwd).replace(os.sep, "/")


def _ignored(lookalikes: list[Path], cwd: Path) -> str:
    if not lookalikes:
        return ""
    names = ", ".join(_shown(p, cwd) for p in lookalikes)
    return f"; {names} {'is' if len(lookalikes) == 1 else 'are'} not read: rename to {DEFAULT_CONFIG}"


def load_config(path: Path | None, documents: bool = True) -> Config:
    """Load and validate a config file (or the defaults when ``path`` is None); ``apiVersion``
    and ``kind`` may be omitted in the file. With ``documents`` the model card and prompt
    variables it names are checked too (`wfgy_rules.run.config_documents`): one `PolicyError`
    with their every problem. A config that ``extends`` a base is read merged over it, its
    path settings expanded (`load_chain`)."""
    if path is None:
        config = Config()
    else:
        document, problems = load_chain(path)
        try:
            config = config_from_document(document, path.resolve().parent, require_header=False, found=problems)
        except PolicyError as exc:
            raise PolicyError(str(exc), document.by_file(exc.problems)) from None
    if documents:
        problems, _ = document_problems(config.providers, config.base_dir)
        if problems:
            raise PolicyError("invalid documents named by the config", problems)
    return config


def config_from_document(document: Document, base_dir: Path, require_header: bool = True, found: list[Problem] | None = None) -> Config:
    """Build a `Config` from a parsed document; every problem (``found`` before, too) is
    raised at once. Only a config file extends a base (`load_config`): an ``extends`` here,
    in a config embedded in another file, is a problem."""
    data = document.data
    if require_header:
        problems = validate(document, "config")
    else:
        header = {"apiVersion": "wfgy-rules/v1", "kind": "Config"}
        probe = replace(document, data={**header, **data} if isinstance(data, dict) else data)
        problems = validate(probe, "config", header_given="apiVersion" in data if isinstance(data, dict) else False)
    problems[:0] = found or []
    if not isinstance(data, dict):
        raise PolicyError("invalid config", problems)
    if EXTENDS in data:
        problems.append(document.problem((EXTENDS,), "only a config file (wfgy.yaml, --config) can extend a base"))
    problems.extend(_check_providers(document, data.get("providers")))
    problems.extend(_check_waiver_dates(document, data.get("waivers")))
    secret_timeout = DEFAULT_SECRET_TIMEOUT
    if not problems and "secret_timeout" in data:
        secret_timeout = parse_duration(data["secret_timeout"])
    if problems:
        raise PolicyError("invalid config", problems)
    return Config(
        path=document.path,
        base_dir=base_dir,
        policies=tuple(data.get("policies", ("builtin",))),
        fail_on=Severity[data.get("fail_on", "low")],
        ignore_versions=tuple(data["ignore_versions"]) if "ignore_versions" in data else None,
        secret_timeout=secret_timeout,
        cuda_mode=(data.get("cuda_probe") or {}).get("mode"),
        providers={name: _without_timeout(settings) for name, settings in data.get("providers", {}).items()},
        provider_timeouts={
            name: parse_duration(settings["timeout"])
            for name, settings in data.get("providers", {}).items()
            if isinstance(settings, dict) and "timeout" in settings
        },
        rules={rule_id: _parsed_timeout(settings) for rule_id, settings in data.get("rules", {}).items()},
        waivers=tuple(data.get("waivers", ())),
        document=document,
    )


def _check_providers(document: Document, section: Any) -> list[Problem]:
    if not isinstance(section, dict):
        return []
    problems = []
    known = registry.names()
    for name, settings in section.items():
        if name not in known:
            problems.append(document.problem(("providers", name), f"unknown provider {name!r}{did_you_mean(name, known)}; installed: {', '.join(sorted(known))}", key=True))
            continue
        if not isinstance(settings, dict):
            continue
        own = {key: value for key, value in settings.items() if key != "timeout"}
        if "timeout" in settings:
            try:
                parse_duration(settings["timeout"])
            except ValueError as exc:
                problems.append(document.problem(("providers", name, "timeout"), str(exc)))
        schema = getattr(registry.load(name), "config_schema", None)
        if schema:
            problems.extend(validate_value(document, own, ("providers", name), schema))
    return problems


def _without_timeout(settings: Any) -> Any:
    return {k: v for k, v in settings.items() if k != "timeout"} if isinstance(settings, dict) else settings


def _parsed_timeout(settings: dict[str, Any]) -> dict[str, Any]:
    return {**settings, "timeout": parse_duration(settings["timeout"])} if "timeout" in settings else settings


def _check_waiver_dates(document: Document, waivers: Any) -> list[Problem]:
    """An ``expires`` the schema's pattern lets through must still be a real date (2027-02-30 is not)."""
    problems = []
    for index, waiver in enumerate(waivers if isinstance(waivers, list) else []):
        expires = waiver.get("expires") if isinstance(waiver, dict) else None
        if not isinstance(expires, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", expires):
            continue  # the schema reports it
        try:
            date.fromisoformat(expires)
        except ValueError as exc:
            problems.append(document.problem(("waivers", index, "expires"), f"{expires} is not a real date ({exc})"))
    return problems
