"""The provider protocol and the registry that finds providers through entry points.

A provider is a class registered in the entry-point group ``wfgy_rules.providers``; the
entry-point name is the provider's name, which is also the top-level key of its facts in
the bundle. Built-in providers register the same way, in this project's ``pyproject.toml``::

    [project.entry-points."wfgy_rules.providers"]
    gpu_quota = "my_team.facts:GpuQuotaProvider"

The class is instantiated with no arguments and must offer:

* ``config_schema``: a JSON Schema (draft 2020-12) for ``providers.<name>`` in ``wfgy.yaml``;
* ``collect(config, ctx) -> dict``: the facts, JSON values only (str, int, float, bool,
  None, list, dict with str keys). Absence is a fact (``present: false``), not an error.
  Raise `wfgy_rules.errors.ProviderError` when the facts cannot be gathered: every rule
  that reads this provider becomes an ``error`` result and the rest of the run goes on.

No provider may ever put a secret value in its facts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ENTRY_POINT_GROUP = "wfgy_rules.providers"
RESERVED_NAMES = frozenset({"params", "item", "index", "null", "true", "false"})


@dataclass(frozen=True)
class ProviderContext:
    """What a provider may know about the run besides its own config.

    ``base_dir`` is the directory of ``wfgy.yaml`` (relative paths in provider config resolve
    against it); ``environ`` is the process environment (tests pass their own);
    ``secret_names`` are the names the config declares secret, whose values no provider may
    publish. ``command`` is the argv ``preflight`` will exec after ``--`` (or that ``facts --``
    names; None for every other run), so a provider can judge what is about to be started; ``settings`` is every
    provider's section of ``wfgy.yaml`` (read-only), for a provider that reads a path another
    provider configures (``serving`` falls back to ``providers.runtime.model_dir``).
    ``deadline`` is when the provider's timeout runs out (`time.monotonic` seconds;
    None: no limit): a provider that starts processes or waits stops them by then, as its
    thread is abandoned at that moment (`wfgy_rules.run.gather`).
    """

    base_dir: Path = field(default_factory=Path.cwd)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    secret_names: frozenset[str] = frozenset()  # declared secret anywhere in the config: never published
    deadline: float | None = None  # time.monotonic() when the provider's timeout runs out
    command: tuple[str, ...] | None = None  # the CMD ARGS… after `preflight --` (or `facts --`)
    settings: Mapping[str, Any] = field(default_factory=dict)  # every provider's config section

    def remaining(self) -> float | None:
        """Seconds left before ``deadline`` (never below zero); None without one."""
        if self.deadline is None:
            return None
        import time

        return max(0.0, self.deadline - time.monotonic())

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """A config path resolved against ``base_dir`` (absolute paths stay as they are)."""
        return (self.base_dir / Path(path)).resolve() if not Path(path).is_absolute() else Path(path)


class Provider(Protocol):
    config_schema: dict[str, Any]

    def collect(self, config: Mapping[str, Any], ctx: ProviderContext) -> dict[str, Any]: ...
