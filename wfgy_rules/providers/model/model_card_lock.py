"""Write ``model-card.json`` from what was really built: the "lock" side of SemVers Diff.

Run where the model was built and tested (in the image); the card then pins what the
runtime provider reports there, and every later gate compares its own runtime with it::

    {
      "chat_template_sha": "41c0…",       # runtime.model_dir.tokenizer.chat_template.sha256
      "checkpoint_sha": "5c2e…",          # runtime.model_dir.checkpoint.sha256
      "context_length": 131072,           # the max_model_len vLLM derives from config.json
      "cuda": "12.1",
      "files": {                          # what each fingerprint was made of, file by file
        "tokenizer": {"tokenizer.json": {"sha256": "…"}, "tokenizer_config.json": {"sha256": "…", "values": {…}}},
        "chat_template": {"chat_template": {"source": "tokenizer_config.json", "sha256": "41c0…", "lines": "…"}},
        "checkpoint": {"model.safetensors.index.json": {"sha256": "…"}, "model-00001-of-00004.safetensors": …},
        "config": {"config.json": {"values": {…}}},
        "generation_config": {"generation_config.json": {"values": {…}}}
      },
      "model": "acme/support-bot-8b",
      "pytorch_sha": "d44533f9…",         # runtime.torch_build.git_version
      "requires_gpu": true,
      "tokenizer_sha": "9e7f02d…",        # runtime.model_dir.tokenizer.sha256
      "tokenizers": "0.19.1",
      "torch": "2.3.1+cu121",
      "transformers": "4.44.2",
      "vllm": "0.6.3",                    # the serving engine installed: vllm, sglang or text-generation-server
      "vocab_size": 128256
    }

Every value comes from the same functions as the ``runtime`` facts, so a card built from a
model directory always matches that directory's facts. ``context_length`` is the context vLLM
derives from ``config.json`` (`wfgy_rules.providers.model.vllm_context`), the number a serving
config's ``max_model_len`` must not exceed. ``files`` holds the runtime facts' ``per_file``
records of each section (`wfgy_rules.providers.model.file_records`): when a fingerprint no
longer matches, the SemVers Diff rules and ``diff`` compare them with the model directory's
and name the file, key and values that changed. A card without them (locked by an older
release) is still judged on the whole fingerprints.

What is unknown is left out of the card rather than written as null, and said: each key that
could not be recorded is in ``Locked.unrecorded`` with the reason (torch not installed here,
a CPU build of torch, no chat template, a Git LFS pointer in place of the checkpoint, no
model directory …). A package the model-card schema has no key for is not written (the
card is validated strictly) and is said too. Recording nothing of what the card is for
(no package, no compiled CUDA, no torch build, nothing from a model directory) is
`NothingToLock`; a model directory whose tokenizer cannot be fingerprinted (no vocabulary
file, or one that does not read) is `Unfingerprinted`, unless the caller allows it: a card
without ``tokenizer_sha`` makes the gate skip the check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfgy_rules.documents.atomic_write import write_atomic
from wfgy_rules.errors import ProviderError, UsageError
from wfgy_rules.providers.model.hfmodel import describe_model_dir
from wfgy_rules.providers.model.model_files import read_json
from wfgy_rules.providers.model.shape import model_shape
from wfgy_rules.providers.runtime import SERVING_ENGINES, compiled_cuda, looked_up, package_versions, torch_build
from wfgy_rules.resources import resource_path
from wfgy_rules.shown_paths import shown_path

# The card keys a model directory gives; lock replaces or removes all of them together.
MODEL_DIR_KEYS = ("tokenizer_sha", "chat_template_sha", "checkpoint_sha", "vocab_size", "context_length", "files")
# The card's ``files`` groups, each the ``per_file`` of a model-directory section (the chat template's is under the tokenizer).
FILE_GROUPS = ("tokenizer", "chat_template", "checkpoint", "config", "generation_config")
# The keys the caller declares; every other key is observed, and a card with none of those pins nothing.
DECLARED_KEYS = frozenset({"model", "requires_gpu", "min_gpu_memory_gib"})
NO_MODEL_DIR = "no model directory (--model-dir, or providers.runtime.model_dir in wfgy.yaml)"


class Unfingerprinted(UsageError):
    """The model directory's tokenizer cannot be fingerprinted (exit 2 unless allowed)."""


class NothingToLock(UsageError):
    """Nothing the card is for could be recorded here (exit 2): the card would pin nothing."""


@dataclass(frozen=True)
class Locked:
    """The card as recorded (no nulls) and, for each key it could not record, why."""

    card: dict[str, Any]
    unrecorded: dict[str, str] = field(default_factory=dict)


def build_model_card(
    model_dir: Path | None,
    packages: list[str],
    model: str | None,
    environ: Mapping[str, str],
    *,
    requires_gpu: bool | None = None,
    min_gpu_memory_gib: float | None = None,
    allow_unfingerprinted: bool = False,
) -> Locked:
    """The card for ``model`` as installed now: the versions of ``packages`` and of the
    installed serving engine, compiled CUDA, torch's git revision, and the tokenizer, chat
    template and checkpoint fingerprints, vocab size and context length of ``model_dir``.

    Raises `UsageError` when ``model_dir`` is not a directory or holds a malformed file,
    `Unfingerprinted` when its tokenizer cannot be fingerprinted and that is not allowed, and
    `NothingToLock` when nothing of what the card pins could be recorded.
    """
    card: dict[str, Any] = {"model": model, "requires_gpu": requires_gpu, "min_gpu_memory_gib": min_gpu_memory_gib}
    unrecorded: dict[str, str] = {}
    _record_packages(packages, card, unrecorded)
    cuda = compiled_cuda(environ)
    card["cuda"] = cuda["compiled"]
    unrecorded["cuda"] = ("torch here is a CPU build (torch.version.cuda is None)" if cuda["source"] == "torch"
                          else "no compiled CUDA here: no torch, no CUDA_VERSION, no /usr/local/cuda/version.json")
    build = torch_build()
    card["pytorch_sha"] = build["git_version"]
    unrecorded["pytorch_sha"] = "torch/version.py has no git_version" if build["present"] else "torch is not installed here"
    if model_dir is None:
        unrecorded.update(dict.fromkeys(MODEL_DIR_KEYS, NO_MODEL_DIR))
    else:
        _record_model_dir(model_dir, card, unrecorded, allow_unfingerprinted)
    card = {key: value for key, value in card.items() if value is not None}
    unrecorded = {key: why for key, why in unrecorded.items() if key not in card}
    if not set(card) - DECLARED_KEYS:
        reasons = "; ".join(f"{key}: {why}" for key, why in unrecorded.items())
        raise NothingToLock(f"nothing to lock here ({reasons}); run `wfgy-rules lock` where the model is built and "
                            "tested (in the image), with its model directory")
    return Locked(card, unrecorded)


def _record_packages(packages: list[str], card: dict[str, Any], unrecorded: dict[str, str]) -> None:
    """The installed versions of ``packages`` and of the serving engine, under their card keys."""
    known = _card_keys()
    for name, version in package_versions(looked_up(packages)).items():
        if version is None:
            if name in packages:  # an engine nobody asked for is only recorded when installed
                unrecorded[name] = f"{name} is not installed here"
        elif name in known:
            card[name] = version
        else:
            unrecorded[name] = (f"{name} {version} is installed, but the model card has no key for it "
                                f"(a custom rule can read runtime.packages.{name})")
    if not any(engine in card or engine in packages for engine in SERVING_ENGINES):
        unrecorded["serving engine"] = f"none of {', '.join(SERVING_ENGINES)} is installed here"


def _record_model_dir(model_dir: Path, card: dict[str, Any], unrecorded: dict[str, str], allow_unfingerprinted: bool) -> None:
    facts = _describe(model_dir)
    tokenizer = facts["tokenizer"]
    if tokenizer["sha256"] is None and not allow_unfingerprinted:
        raise Unfingerprinted(f"{shown_path(model_dir)}: {_why_unfingerprinted(tokenizer)}; the card would have no tokenizer_sha "
                              "and the gate would skip the tokenizer check (--allow-unfingerprinted writes it anyway)")
    card["tokenizer_sha"] = tokenizer["sha256"]
    unrecorded["tokenizer_sha"] = _why_unfingerprinted(tokenizer)
    card["chat_template_sha"] = tokenizer["chat_template"]["sha256"]
    unrecorded["chat_template_sha"] = "no chat template (chat_template.jinja, or chat_template in tokenizer_config.json)"
    checkpoint = facts["checkpoint"]
    card["checkpoint_sha"] = checkpoint["sha256"]
    unrecorded["checkpoint_sha"] = checkpoint["error"] or "no *.safetensors checkpoint"
    config = facts["config"]
    card["vocab_size"] = config["vocab_size"]
    unrecorded["vocab_size"] = "config.json has no vocab_size" if config["present"] else "no config.json"
    files = {group: _per_file(facts, group) for group in FILE_GROUPS}
    card["files"] = {group: records for group, records in files.items() if records} or None
    unrecorded["files"] = "no file of the model directory to record"
    shape = model_shape(read_json(model_dir / "config.json"), _tokenizer_config(model_dir))
    card["context_length"] = shape["derived_context"]
    unrecorded["context_length"] = shape["derived_context_from"] if shape["present"] else "no config.json"


def _per_file(facts: dict[str, Any], group: str) -> dict[str, Any]:
    section = facts["tokenizer"]["chat_template"] if group == "chat_template" else facts[group]
    return section.get("per_file") or {}


def _tokenizer_config(model_dir: Path) -> dict[str, Any] | None:
    """tokenizer_config.json, which caps the context of some pooling models; None when unreadable."""
    try:
        return read_json(model_dir / "tokenizer_config.json")
    except ProviderError:
        return None  # already said, as the tokenizer's error


def _card_keys() -> frozenset[str]:
    """The keys the model-card schema knows: a package outside them cannot be written to the card."""
    schema = json.loads(resource_path("schemas/model-card.schema.json").read_text(encoding="utf-8"))
    return frozenset(schema["properties"])


def _why_unfingerprinted(tokenizer: dict[str, Any]) -> str:
    if tokenizer["error"]:
        return f"cannot fingerprint the tokenizer: {tokenizer['error']}"
    return ("no tokenizer file to fingerprint (looked for tokenizer.json, tekken.json, tokenizer.model[.v*], "
            "spiece.model, sentencepiece.bpe.model, vocab.json + merges.txt, vocab.txt)")


def _describe(model_dir: Path) -> dict[str, Any]:
    if not model_dir.is_dir():
        raise UsageError(f"{shown_path(model_dir)}: not a directory (expected a Hugging Face model directory)")
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
