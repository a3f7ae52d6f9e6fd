"""``wfgy-rules lock``: write ``model-card.json`` from the build environment.

Run it where the image is built and tested. It records the installed versions of the
runtime provider's packages, the compiled CUDA, torch's git revision and the model
directory's tokenizer, chat template and checkpoint fingerprints and vocab size, so the
deploy-time gate (SemVers Diff) compares against what was really built. Keys already in the
card that ``lock`` does not produce (``context_length``, ``requires_gpu`` …) are kept; the
keys it produces are replaced, and when a model directory is locked its keys that it no
longer gives (a chat template removed) are removed, never left stale.

A model directory whose tokenizer cannot be fingerprinted is exit 2, unless
``--allow-unfingerprinted``; then the card is written without ``tokenizer_sha`` and stderr
says so.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from wfgy_rules.errors import Problem, UsageError
from wfgy_rules.providers.model.model_card_lock import (
    MODEL_DIR_KEYS,
    build_model_card,
    write_model_card,
)
from wfgy_rules.run.config import find_config, load_config

_DEFAULT_PACKAGES = ["torch", "transformers", "tokenizers"]


def run(config: str | None, model_dir: str | None, model: str | None, output: str | None,
        requires_gpu: bool | None, min_gpu_memory_gib: float | None, allow_unfingerprinted: bool = False) -> int:
    settings = load_config(find_config(config))
    runtime = settings.providers.get("runtime", {})
    card_setting = settings.providers.get("model_card", {}).get("path", "model-card.json")
    directory = Path(model_dir) if model_dir else (settings.base_dir / runtime["model_dir"] if "model_dir" in runtime else None)
    target = Path(output) if output else settings.base_dir / card_setting
    existing = _existing(target)
    card = build_model_card(directory, list(runtime.get("packages", _DEFAULT_PACKAGES)), model or existing.get("model"),
                            dict(os.environ), requires_gpu=requires_gpu, min_gpu_memory_gib=min_gpu_memory_gib,
                            allow_unfingerprinted=allow_unfingerprinted)
    stale = set(MODEL_DIR_KEYS) if directory is not None else set()
    merged = {**{k: v for k, v in existing.items() if k not in stale}, **card}
    write_model_card(merged, target)
    print(f"wrote {target} ({', '.join(f'{k}={v}' for k, v in sorted(card.items()))})", file=sys.stderr)
    for key in (k for k in MODEL_DIR_KEYS if directory is not None and k not in card):
        print(f"note: {directory} gives no {key}; the card has none, and the rule comparing it skips", file=sys.stderr)
    return 0


def _existing(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read the existing card", [Problem(str(path), f"cannot read the existing card: {exc}")]) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a JSON object", [Problem(str(path), "the existing card is not a JSON object")])
    return data
