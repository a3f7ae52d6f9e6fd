"""Gather the fact bundle from the providers the selected rules need.

Each provider runs in its own thread under a timeout (``providers.<name>.timeout`` in
``wfgy.yaml``, default 30s). A provider that raises, hangs past its timeout, or returns
something that is not JSON (or nests deeper than a bundle file may) is recorded in the
bundle's ``errors``; the rules that read it become ``error`` results and every other rule
is still evaluated. Each provider's context carries its deadline (``ctx.deadline``), so a
provider that starts worker processes (``prompts``) stops them when its thread is abandoned.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping
from typing import Any

from wfgy_rules.documents.fact_bundles import check_depth
from wfgy_rules.errors import ProviderError
from wfgy_rules.jsonvalues import canonical
from wfgy_rules.model import Bundle
from wfgy_rules.providers import registry
from wfgy_rules.providers.base import ProviderContext

DEFAULT_PROVIDER_TIMEOUT = 30.0


def gather(names: Iterable[str], settings: Mapping[str, Any], ctx: ProviderContext, timeouts: Mapping[str, float] | None = None) -> Bundle:
    """Run the named providers concurrently, each under its timeout (seconds; default 30)."""
    timeouts = timeouts or {}
    jobs = {name: _Job(name, dict(settings.get(name) or {}), timeouts.get(name, DEFAULT_PROVIDER_TIMEOUT), ctx) for name in sorted(set(names))}
    for job in jobs.values():
        job.start()
    facts, errors = {}, {}
    for name, job in jobs.items():
        job.thread.join(max(0.0, job.deadline - time.monotonic()))
        if job.thread.is_alive() or job.finished > job.deadline:  # late, even by a hair: a timeout
            errors[name] = f"provider {name!r} did not finish within its {job.timeout:g}s timeout"
        elif job.error is not None:
            errors[name] = job.error
        else:
            facts[name] = job.facts
    return Bundle(facts, errors)


class _Job:
    def __init__(self, name: str, settings: dict[str, Any], timeout: float, ctx: ProviderContext):
        import threading  # only runs that gather pay for it (not `eval --facts`)

        self.name = name
        self.timeout = timeout
        self.settings = settings
        self.ctx = ctx
        self.facts: Any = None
        self.error: str | None = None
        self.deadline = self.finished = float("inf")
        self.thread = threading.Thread(target=self.run, name=f"provider-{name}", daemon=True)

    def start(self) -> None:
        self.deadline = time.monotonic() + self.timeout
        self.ctx = dataclasses.replace(self.ctx, deadline=self.deadline)
        self.thread.start()

    def run(self) -> None:
        try:
            self._collect()
        finally:
            self.finished = time.monotonic()

    def _collect(self) -> None:
        try:
            facts = registry.load(self.name).collect(self.settings, self.ctx)
            if not isinstance(facts, dict):
                raise ProviderError(f"returned {type(facts).__name__}, expected an object of facts")
            canonical(facts)
            check_depth(facts)
            self.facts = facts
        except ProviderError as exc:
            self.error = f"provider {self.name!r} failed: {exc}"
        except (TypeError, ValueError) as exc:
            self.error = f"provider {self.name!r} returned facts that are not JSON: {exc}"
        except Exception as exc:  # a plugin's bug must not stop the run (SPEC §5)
            self.error = f"provider {self.name!r} crashed: {type(exc).__name__}: {exc}"
