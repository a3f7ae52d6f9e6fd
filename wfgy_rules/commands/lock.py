"""``wfgy-rules lock``: write ``model-card.json`` from the build environment.

Run it where the image is built and tested (in the image). It records the installed
versions of the runtime provider's packages and of the serving engine (vLLM, SGLang or TGI's
``text-generation-server``, when one is installed), the compiled CUDA, torch's git revision
and the model directory's tokenizer, chat template and checkpoint fingerprints (with what
each file behind them held: ``files``), vocab size and context length, so the deploy-time
gate (SemVers Diff) compares against what was really built, and names the file that changed
when a fingerprint no longer matches. Keys already in the card that ``lock`` does not
produce (``requires_gpu``, ``custom`` …) are kept; the keys it produces are replaced, and
when a model directory is locked its keys that it no longer gives (a chat template removed)
are removed, never left stale.

Paths are shown from where it runs, as in every command (``wrote model-card.json``).

Nothing is left out silently: every key it could not record is a ``warning:`` line on stderr
with the reason (``torch not recorded: torch is not installed here``), keys alike grouped
on one line. Recording nothing of what the card is for (run outside the image, without a
model directory) is exit 2 and no card is written. A model directory whose tokenizer cannot
be fingerprinted is exit 2 too, unless ``--allow-unfingerprinted``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from wfgy_rules.errors import Problem, UsageError
from wfgy_rules.providers.model.model_card_lock import MODEL_DIR_KEYS, build_model_card, write_model_card
from wfgy_rules.providers.runtime import DEFAULT_PACKAGES
from wfgy_rules.run.config import find_config, load_config
from wfgy_rules.shown_paths import shown_path

# Keys whose value depends on where lock runs: missing ones say to run it in the image.
_ENVIRONMENT_KEYS = ("cuda", "pytorch_sha", "serving engine")


def run(config: str | None, model_dir: str | None, model: str | None, output: str | None,
        requires_gpu: bool | None, min_gpu_memory_gib: float | None, allow_unfingerprinted: bool = False) -> int:
    settings = load_config(find_config(config))
    runtime = settings.providers.get("runtime", {})
    card_setting = settings.providers.get("model_card", {}).get("path", "model-card.json")
    directory = Path(model_dir) if model_dir else (settings.base_dir / runtime["model_dir"] if "model_dir" in runtime else None)
    target = Path(output) if output else settings.base_dir / card_setting
    existing = _existing(target)
    packages = list(runtime.get("packages", DEFAULT_PACKAGES))
    locked = build_model_card(directory, packages, model or existing.get("model"), dict(os.environ), requires_gpu=requires_gpu,
                              min_gpu_memory_gib=min_gpu_memory_gib, allow_unfingerprinted=allow_unfingerprinted)
    stale = set(MODEL_DIR_KEYS) if directory is not None else set()
    merged = {**{k: v for k, v in existing.items() if k not in stale}, **locked.card}
    write_model_card(merged, target)
    print(f"wrote {shown_path(target)} ({', '.join(f'{k}={_shown(v)}' for k, v in sorted(locked.card.items()))})", file=sys.stderr)
    for line in _warnings(locked.unrecorded, merged):
        print(line, file=sys.stderr)
    if any(key in locked.unrecorded for key in (*packages, *_ENVIRONMENT_KEYS)):
        print("hint: lock records what is installed where it runs; run it in the image "
              "(docker run --entrypoint wfgy-rules IMAGE lock …) to pin the image's packages and CUDA", file=sys.stderr)
    return 0


def _shown(value: object) -> object:
    """A card value for the ``wrote`` line: ``files`` as the number of files it records."""
    if isinstance(value, dict) and all(isinstance(group, dict) for group in value.values()):
        return f"{sum(len(group) for group in value.values())} file records"
    return value


def _warnings(unrecorded: dict[str, str], card: dict) -> list[str]:
    """One ``warning:`` line per reason, naming every key it kept out (and what the card keeps)."""
    by_reason: dict[str, list[str]] = {}
    for key, why in unrecorded.items():
        by_reason.setdefault(why, []).append(key)
    lines = []
    for why, keys in by_reason.items():
        kept = "".join(f"; the card keeps {key} = {json.dumps(card[key])} from before" for key in keys if key in card)
        lines.append(f"warning: {', '.join(keys)} not recorded: {why}{kept}")
    return lines


def _existing(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{shown_path(path)}: cannot read the existing card",
                         [Problem(shown_path(path), f"cannot read the existing card: {exc}")]) from None
    if not isinstance(data, dict):
        raise UsageError(f"{shown_path(path)}: not a JSON object", [Problem(shown_path(path), "the existing card is not a JSON object")])
    return data
