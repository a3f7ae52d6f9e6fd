"""Which effective fact each model-card field is compared with: a table, not code.

Each entry reads ``(model-card key, effective fact path, comparison)``. A key may appear
more than once (``vocab_size`` is checked against ``config.json`` and against the
checkpoint's embedding). A model-card key that is not in the table but names a package the
runtime provider reports (``vllm``, ``flash-attn``) is compared with
``runtime.packages.<key>`` as a version; any other key is shown as ``unpaired``.

==================  ==========================================  ==========  ======================
model card          effective fact                              comparison  equal when
==================  ==========================================  ==========  ======================
tokenizer_sha       runtime.model_dir.tokenizer.sha256          prefix      fingerprint starts
                                                                            with the declared hex
chat_template_sha   runtime.model_dir.tokenizer.chat_template   prefix      (the same)
                    .sha256
checkpoint_sha      runtime.model_dir.checkpoint.sha256         prefix      (the same)
vocab_size          runtime.model_dir.config.vocab_size         same        the same number
vocab_size          runtime.model_dir.checkpoint.embedding_rows same        the same number
torch               runtime.packages.torch                      version     no drift (``+cu121``
transformers        runtime.packages.transformers               version     local labels and
tokenizers          runtime.packages.tokenizers                 version     4th parts ignored)
cuda                runtime.cuda.compiled                       version     no drift
requires_gpu        nvml.device_count                           gpu         a GPU is visible, or
                                                                            none is required
min_gpu_memory_gib  nvml.max_memory_total_gib                   at_least    the largest GPU has
                                                                            at least that much
==================  ==========================================  ==========  ======================

A comparison is a small function ``(declared, effective) -> (mark, level, note)`` in
`COMPARISONS`; add one there and name it here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wfgy_rules.errors import EvaluationError
from wfgy_rules.policy import versions

PAIRINGS: tuple[tuple[str, str, str], ...] = (
    ("tokenizer_sha", "runtime.model_dir.tokenizer.sha256", "prefix"),
    ("chat_template_sha", "runtime.model_dir.tokenizer.chat_template.sha256", "prefix"),
    ("checkpoint_sha", "runtime.model_dir.checkpoint.sha256", "prefix"),
    ("vocab_size", "runtime.model_dir.config.vocab_size", "same"),
    ("vocab_size", "runtime.model_dir.checkpoint.embedding_rows", "same"),
    ("torch", "runtime.packages.torch", "version"),
    ("transformers", "runtime.packages.transformers", "version"),
    ("tokenizers", "runtime.packages.tokenizers", "version"),
    ("cuda", "runtime.cuda.compiled", "version"),
    ("requires_gpu", "nvml.device_count", "gpu"),
    ("min_gpu_memory_gib", "nvml.max_memory_total_gib", "at_least"),
)

Outcome = tuple[str, "str | None", str]  # (mark, drift level, note)


def _same(declared: Any, effective: Any) -> Outcome:
    if type(declared) is type(effective) and declared == effective or (_number(declared) and _number(effective) and declared == effective):
        return "equal", None, ""
    return "drifted", None, "differs"


def _prefix(declared: Any, effective: Any) -> Outcome:
    if isinstance(declared, str) and isinstance(effective, str) and declared and effective.lower().startswith(declared.lower()):
        return "equal", None, ""
    return "drifted", None, "another fingerprint"


def _version(declared: Any, effective: Any) -> Outcome:
    try:
        level = versions.drift(effective, declared)
    except EvaluationError as exc:
        return "drifted", None, str(exc)
    if level == "none":
        return "equal", None, ""
    return "drifted", level, f"{level} drift"


def _gpu(declared: Any, effective: Any) -> Outcome:
    if declared is not True:
        return "equal", None, "no GPU required"
    if _number(effective) and effective > 0:
        return "equal", None, ""
    return "drifted", None, "a GPU is required; none is visible"


def _at_least(declared: Any, effective: Any) -> Outcome:
    if _number(declared) and _number(effective) and effective >= declared:
        return "equal", None, ""
    return "drifted", None, "below the declared minimum"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


COMPARISONS: dict[str, Callable[[Any, Any], Outcome]] = {
    "same": _same,
    "prefix": _prefix,
    "version": _version,
    "gpu": _gpu,
    "at_least": _at_least,
}
