"""The fact bundle: gathered from the providers the selected rules need, or read from a
``facts.json`` written earlier by ``wfgy-rules facts`` (gather on the target, judge anywhere).

Each provider runs in its own thread under a timeout (``providers.<name>.timeout`` in
``wfgy.yaml``, default 30s). A provider that raises, hangs past its timeout, or returns
something that is not JSON is recorded in ``errors``; the rules that read it become
``error`` results and every other rule is still evaluated.

A bundle file is a JSON object keyed by provider name; the reserved key ``_errors`` maps
provider names to the reason their facts are missing. JSON with ``NaN``/``Infinity``,
duplicate keys, or nesting deeper than ``MAX_DEPTH`` levels is refused (exit 2); a provider
whose facts nest deeper is an ``error`` like any other provider failure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfgy_rules.errors import Problem, ProviderError, WfgyError
from wfgy_rules.jsonvalues import canonical
from wfgy_rules.providers import registry
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.timeparse import parse_duration
from wfgy_rules.yamlio import read_text

ERRORS_KEY = "_errors"
DEFAULT_PROVIDER_TIMEOUT = 30.0
MAX_DEPTH = 512  # twice the YAML loader's limit: room for provider and fact-name levels


@dataclass(frozen=True)
class Bundle:
    """Facts keyed by provider, the providers that failed (name → reason), and the bundle's
    file name when it was read from ``--facts DIR``."""

    facts: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = dict(sorted(self.facts.items()))
        if self.errors:
            data[ERRORS_KEY] = dict(sorted(self.errors.items()))
        return data

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(canonical(self.to_json()).encode()).hexdigest()


def gather(names: Iterable[str], settings: Mapping[str, Any], ctx: ProviderContext) -> Bundle:
    """Run the named providers concurrently, each under its timeout."""
    jobs = {name: _Job(name, dict(settings.get(name) or {}), ctx) for name in sorted(set(names))}
    for job in jobs.values():
        job.thread.start()
    facts, errors = {}, {}
    for name, job in jobs.items():
        job.thread.join(job.timeout)
        if job.thread.is_alive():
            errors[name] = f"provider {name!r} did not finish within its {job.timeout:g}s timeout"
        elif job.error is not None:
            errors[name] = job.error
        else:
            facts[name] = job.facts
    return Bundle(facts, errors)


class _Job:
    def __init__(self, name: str, settings: dict[str, Any], ctx: ProviderContext):
        import threading  # only runs that gather pay for it (not `eval --facts`)

        self.name = name
        self.timeout = parse_duration(settings.pop("timeout", DEFAULT_PROVIDER_TIMEOUT))
        self.settings = settings
        self.ctx = ctx
        self.facts: Any = None
        self.error: str | None = None
        self.thread = threading.Thread(target=self.run, name=f"provider-{name}", daemon=True)

    def run(self) -> None:
        try:
            facts = registry.load(self.name).collect(self.settings, self.ctx)
            if not isinstance(facts, dict):
                raise ProviderError(f"returned {type(facts).__name__}, expected an object of facts")
            canonical(facts)
            _check_depth(facts)
            self.facts = facts
        except ProviderError as exc:
            self.error = f"provider {self.name!r} failed: {exc}"
        except (TypeError, ValueError) as exc:
            self.error = f"provider {self.name!r} returned facts that are not JSON: {exc}"
        except Exception as exc:  # a plugin's bug must not stop the run (SPEC §5)
            self.error = f"provider {self.name!r} crashed: {type(exc).__name__}: {exc}"


def read_bundle(path: Path, shown: str | None = None) -> Bundle:
    """Read one bundle file written by ``wfgy-rules facts`` (exit 2 on anything malformed)."""
    shown = shown or path.as_posix()
    text = read_text(path, shown)
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
        _check_depth(data)
    except json.JSONDecodeError as exc:
        raise WfgyError("bad facts", [Problem(shown, f"not valid JSON: {exc.msg}", exc.lineno, exc.colno)]) from None
    except ValueError as exc:
        raise WfgyError("bad facts", [Problem(shown, str(exc))]) from None
    except RecursionError:
        raise WfgyError("bad facts", [Problem(shown, f"JSON nested deeper than {MAX_DEPTH} levels")]) from None
    if not isinstance(data, dict):
        raise WfgyError("bad facts", [Problem(shown, "a fact bundle must be a JSON object keyed by provider name")])
    errors = data.pop(ERRORS_KEY, {})
    if not isinstance(errors, dict) or not all(isinstance(v, str) for v in errors.values()):
        raise WfgyError("bad facts", [Problem(shown, f"{ERRORS_KEY} must map provider names to messages")])
    return Bundle(data, errors, path.name)


def read_bundles(path: Path) -> Iterator[Bundle]:
    """One bundle for a file; every ``*.json`` bundle of a directory, in name order."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
        if not files:
            raise WfgyError("no bundles", [Problem(path.as_posix(), "no *.json fact bundles in this directory")])
        for file in files:
            yield read_bundle(file)
    else:
        bundle = read_bundle(path)
        yield Bundle(bundle.facts, bundle.errors, None)


def _check_depth(value: Any) -> None:
    """`ValueError` when ``value`` nests deeper than ``MAX_DEPTH`` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > MAX_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"duplicate key {duplicate!r} in a JSON object")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")
