"""Write ``model-card.json`` from what was really built: the "lock" side of SemVers Diff.

Run where the model was built and tested; the card then pins what the runtime provider
reports there, and every later gate compares its own runtime with it::

    {
      "chat_template_sha": "41c0…",       # runtime.model_dir.tokenizer.chat_template.sha256
      "checkpoint_sha": "5c2e…",          # runtime.model_dir.checkpoint.sha256
      "cuda": "12.1",
      "model": "acme/support-bot-8b",
      "pytorch_sha": "d44533f9…",         # runtime.torch_build.git_version
      "requires_gpu": true,
      "tokenizer_sha": "9e7f02d…",        # runtime.model_dir.tokenizer.sha256
      "tokenizers": "0.19.1",
      "torch": "2.3.1+cu121",
      "transformers": "4.44.2",
      "vocab_size": 128256
    }

Every value comes from the same functions as the ``runtime`` facts, so a card built from a
model directory always matches that directory's facts. What is unknown (a package that is
not installed, a model without a chat template or a safetensors checkpoint) is left out of
the card rather than written as null. A model directory whose tokenizer cannot be
fingerprinted (no vocabulary file, or one that does not read) is an error, `Unfingerprinted`,
unless the caller allows it: a card without ``tokenizer_sha`` makes the gate skip the check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfgy_rules.documents.atomic_write import write_atomic
from wfgy_rules.errors import ProviderError, UsageError
from wfgy_rules.providers.model.hfmodel import describe_model_dir
from wfgy_rules.providers.runtime import compiled_cuda, package_versions, torch_build

# The card keys a model directory gives; lock replaces or removes all of them together.
MODEL_DIR_KEYS = ("tokenizer_sha", "chat_template_sha", "checkpoint_sha", "vocab_size")


class Unfingerprinted(UsageError):
    """The model directory's tokenizer cannot be fingerprinted (exit 2 unless allowed)."""


def build_model_card(
    model_dir: Path | None,
    packages: list[str],
    model: str | None,
    environ: Mapping[str, str],
    *,
    requires_gpu: bool | None = None,
    min_gpu_memory_gib: float | None = None,
    allow_unfingerprinted: bool = False,
) -> dict[str, Any]:
    """The card for ``model`` as installed now: ``packages`` versions, compiled CUDA, torch's
    git revision, and the tokenizer, chat template and checkpoint fingerprints and vocab size
    of ``model_dir`` (when given).

    Raises `UsageError` when ``model_dir`` is not a directory or holds a malformed file, and
    `Unfingerprinted` when its tokenizer cannot be fingerprinted and that is not allowed.
    """
    card: dict[str, Any] = {
        "model": model,
        **package_versions(packages),
        "cuda": compiled_cuda(environ)["compiled"],
        "pytorch_sha": torch_build()["git_version"],
        "requires_gpu": requires_gpu,
        "min_gpu_memory_gib": min_gpu_memory_gib,
    }
    if model_dir is not None:
        facts = _describe(model_dir)
        tokenizer = facts["tokenizer"]
        if tokenizer["sha256"] is None and not allow_unfingerprinted:
            raise Unfingerprinted(f"{model_dir}: {_why_unfingerprinted(tokenizer)}; the card would have no tokenizer_sha "
                                  "and the gate would skip the tokenizer check (--allow-unfingerprinted writes it anyway)")
        card["tokenizer_sha"] = tokenizer["sha256"]
        card["chat_template_sha"] = tokenizer["chat_template"]["sha256"]
        card["checkpoint_sha"] = facts["checkpoint"]["sha256"]
        card["vocab_size"] = facts["config"]["vocab_size"]
    return {key: value for key, value in card.items() if value is not None}


def _why_unfingerprinted(tokenizer: dict[str, Any]) -> str:
    if tokenizer["error"]:
        return f"cannot fingerprint the tokenizer: {tokenizer['error']}"
    return ("no tokenizer file to fingerprint (looked for tokenizer.json, tekken.json, tokenizer.model[.v*], "
            "spiece.model, sentencepiece.bpe.model, vocab.json + merges.txt, vocab.txt)")


def _describe(model_dir: Path) -> dict[str, Any]:
    if not model_dir.is_dir():
        raise UsageError(f"{model_dir}: not a directory (expected a Hugging Face model directory)")
    try:
        described = describe_model_dir(model_dir)
    except ProviderError as exc:
        raise UsageError(str(exc)) from None
    damaged = [described[s]["error"] for s in ("config", "generation_config") if described[s].get("error")]
    if damaged:  # a card must not pin a directory whose files cannot be read
        raise UsageError(damaged[0])
    return described


def write_model_card(card: Mapping[str, Any], path: Path) -> None:
    """Write ``card`` as stable JSON (sorted keys, 2-space indent, final newline), atomically."""
    write_atomic(path, json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
