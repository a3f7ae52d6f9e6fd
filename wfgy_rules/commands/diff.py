"""``wfgy-rules diff``: the declared runtime beside the effective one, or two fact bundles.

* no ``--facts``: gather the model card, runtime, NVML, env, secrets and prompts facts now
  and compare what is declared with what is there (`wfgy_rules.diff.declared`);
* ``--facts F``: the same over a bundle written by ``wfgy-rules facts``;
* ``--facts OLD --facts NEW``: what changed between two bundles (`wfgy_rules.diff.bundles`).

Paths in the rows are shown from the working directory, as in every other command; a
bundle's are taken as relative to the config found here (``--config``, or the nearest
``wfgy.yaml``), as ``eval --facts`` takes them. Text rows fit 100 columns.

Exit 0 (``--exit-code``: 1 when something drifted or is missing), 2 on invalid input.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wfgy_rules.diff.bundles import bundles_diff
from wfgy_rules.diff.declared import PROVIDERS, declared_vs_effective
from wfgy_rules.diff.render import FORMATS
from wfgy_rules.documents.atomic_write import write_atomic
from wfgy_rules.documents.fact_bundles import read_bundle
from wfgy_rules.errors import Problem, UsageError
from wfgy_rules.exit_codes import ExitCode
from wfgy_rules.model import Bundle
from wfgy_rules.providers import registry
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.run.config import find_config, load_config
from wfgy_rules.run.gather import gather


def run(config: str | None, facts: list[str], fmt: str, output: str | None, show_all: bool, exit_code: bool) -> int:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of: {', '.join(FORMATS)}")
    if len(facts) > 2:
        raise UsageError("--facts: give one bundle (declared vs effective) or two (OLD then NEW)")
    bundles = [_read(path) for path in facts]
    if len(bundles) == 2:
        diff = bundles_diff(*bundles, Path(facts[0]).name, Path(facts[1]).name)
    elif bundles:
        diff = declared_vs_effective(bundles[0], _config_dir(config))
    else:
        diff = declared_vs_effective(*_gather(config))
    text = FORMATS[fmt](diff, show_all)
    if output:
        write_atomic(Path(output), text)
    else:
        sys.stdout.write(text)
    return ExitCode.FAILED if exit_code and diff.drifted else ExitCode.PASSED


def _read(path: str) -> Bundle:
    if not Path(path).is_file():
        raise UsageError(f"{path}: no such file", [Problem(path, "no such fact bundle file")])
    return read_bundle(Path(path))


def _gather(config_path: str | None) -> tuple[Bundle, Path]:
    """The facts gathered now, and the config's directory their paths are relative to."""
    config = load_config(find_config(config_path))
    names = [name for name in PROVIDERS if name in registry.names()]
    ctx = ProviderContext(base_dir=config.base_dir, environ=dict(os.environ))
    return gather(names, config.providers, ctx, config.provider_timeouts), config.base_dir


def _config_dir(config_path: str | None) -> Path | None:
    """The directory of the config a bundle's paths are relative to, as for ``eval --facts``."""
    path = find_config(config_path)
    return path.resolve().parent if path is not None else None
