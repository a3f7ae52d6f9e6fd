"""Write ``model-card.json`` from what was really built: the "lock" side of SemVers Diff.

Run where the model was built and tested; the card then pins what the runtime provider
reports there, and every later gate compares its own runtime with it::

    {
      "cuda": "12.1",
      "model": "acme/support-bot-8b",
      "requires_gpu": true,
      "tokenizer_sha": "9e7f02d…",
      "tokenizers": "0.19.1",
      "torch": "2.3.1+cu121",
      "transformers": "4.44.2",
      "vocab_size": 128256
    }

Every value comes from the same functions as the ``runtime`` facts, so a card built from a
model directory always matches that directory's ``runtime.model_dir.tokenizer.sha256``.
What is unknown (a package that is not installed, no tokenizer.json) is left out of the
card rather than written as null.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfgy_rules.documents.atomic_write import write_atomic
from wfgy_rules.errors import ProviderError, UsageError
from wfgy_rules.providers.hfmodel import describe_model_dir
from wfgy_rules.providers.runtime import compiled_cuda, package_versions


def build_model_card(
    model_dir: Path | None,
    packages: list[str],
    model: str | None,
    environ: Mapping[str, str],
    *,
    requires_gpu: bool | None = None,
    min_gpu_memory_gib: float | None = None,
) -> dict[str, Any]:
    """The card for ``model`` as installed now: ``packages`` versions, compiled CUDA, and the
    tokenizer fingerprint and vocab size of ``model_dir`` (when given).

    Raises `UsageError` when ``model_dir`` is not a directory or holds a malformed file.
    """
    card: dict[str, Any] = {
        "model": model,
        **package_versions(packages),
        "cuda": compiled_cuda(environ)["compiled"],
        "requires_gpu": requires_gpu,
        "min_gpu_memory_gib": min_gpu_memory_gib,
    }
    if model_dir is not None:
        facts = _describe(model_dir)
        card["tokenizer_sha"] = facts["tokenizer"]["sha256"]
        card["vocab_size"] = facts["config"]["vocab_size"]
    return {key: value for key, value in card.items() if value is not None}


def _describe(model_dir: Path) -> dict[str, Any]:
    if not model_dir.is_dir():
        raise UsageError(f"{model_dir}: not a directory (expected a Hugging Face model directory)")
    try:
        return describe_model_dir(model_dir)
    except ProviderError as exc:
        raise UsageError(str(exc)) from None


def write_model_card(card: Mapping[str, Any], path: Path) -> None:
    """Write ``card`` as stable JSON (sorted keys, 2-space indent, final newline), atomically."""
    write_atomic(path, json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
