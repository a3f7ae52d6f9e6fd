"""What a ``block`` wait in ``preflight`` can still see arrive, and why not when it cannot.

A running process never sees its own environment change, and a volume (a Kubernetes secret
or CSI volume, Vault Agent's ``/vault/secrets``, Docker's ``/run/secrets``) is mounted
before the process starts: files may still be written into a mounted directory (Vault Agent
renders them late), but a directory that is not there will not appear. So, per provider a
``block`` rule reads:

* ``env``: nothing can arrive;
* ``secrets``: a ``dir`` source whose directory exists, or a ``dotenv`` source whose file or
  directory exists, can still deliver; the process environment cannot::

      secrets: {required: [OPENAI_API_KEY]}                 # env only: never waited for
      secrets: {required: [OPENAI_API_KEY], sources: [{type: env}, {type: dir, path: /run/secrets}]}

* every other provider (files, prompts, GPUs …): it may.

A rule is waited for when one of the providers it reads can still deliver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wfgy_rules.model import Rule
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.env.secrets import DEFAULT_SOURCES, describe

_FIXED_ENV = "the process environment does not change while a process runs"


def cannot_arrive(rule: Rule, settings: Mapping[str, Any], base_dir: Path) -> str | None:
    """Why nothing ``rule`` reads can change while preflight waits, or None when something can.

    ``settings`` is every provider's section of wfgy.yaml; ``base_dir`` the directory relative
    source paths resolve against."""
    reasons = [_SETTLED[name](settings.get(name) or {}, base_dir) if name in _SETTLED else None for name in rule.facts]
    if not reasons or None in reasons:
        return None
    return "; ".join(dict.fromkeys(r for r in reasons if r))


def _env(settings: Mapping[str, Any], base_dir: Path) -> str:
    return f"env: {_FIXED_ENV}"


def _secrets(settings: Mapping[str, Any], base_dir: Path) -> str | None:
    """None when a source can still deliver a secret, else why none can."""
    place = ProviderContext(base_dir=base_dir, environ={})
    why = []
    for source in settings.get("sources", DEFAULT_SOURCES):
        if source["type"] == "env":
            why.append(f"env ({_FIXED_ENV})")
            continue
        path = place.resolve(source["path"])
        if path.is_dir() if source["type"] == "dir" else (path.exists() or path.parent.is_dir()):
            return None
        where = "not there" if source["type"] == "dir" else "neither the file nor its directory is there"
        why.append(f"{describe(source)} ({where}; a volume is mounted before the process starts)")
    return "none of its sources can still deliver a secret: " + ", ".join(why)


# The providers that can tell when nothing more can arrive: name → (its settings, the base
# directory) → why not, or None when something still can.
_SETTLED: dict[str, Callable[[Mapping[str, Any], Path], str | None]] = {"env": _env, "secrets": _secrets}
