"""``model_card``: what the deployment *declares* it was built with (``model-card.json``).

Config (``providers.model_card`` in ``wfgy.yaml``)::

    providers:
      model_card:
        path: model-card.json         # the default; relative to wfgy.yaml

A card path named here that does not exist (a typo, a card not written yet) raises
`ProviderError` (``model_card path deploy/card.json does not exist (relative to wfgy.yaml);
write it with `wfgy-rules lock```): every rule that reads the card is an error, the others
keep their results. Left to its default, an absent ``model-card.json`` is a fact.

Facts (``model_card.*``)::

    present: true                     # false, with declared: null, when the file does not exist
    path: model-card.json             # as configured
    declared:                         # the parsed file (schema: `wfgy-rules schema model-card`)
      model: meta-llama/Meta-Llama-3-8B-Instruct
      tokenizer_sha: 9e7f02d          # compare with runtime.model_dir.tokenizer.sha256
      chat_template_sha: 41c0a7e      # runtime.model_dir.tokenizer.chat_template.sha256
      checkpoint_sha: 5c2e91b         # runtime.model_dir.checkpoint.sha256 (tensor names, dtypes, shapes)
      torch: 2.3.1+cu121
      pytorch_sha: cf30153c4c13       # runtime.torch_build.git_version
      transformers: 4.44.2
      tokenizers: 0.19.1
      cuda: "12.1"                    # compare with runtime.cuda.compiled
      requires_gpu: true
      min_gpu_memory_gib: 24
      vocab_size: 128256              # compare with runtime.model_dir.config.vocab_size
      context_length: 8192            # tokens the model serves (for custom rules)
      custom: {owner: ml-platform}    # a team's own keys: any JSON, under custom only

A missing card is a fact, not an error: rules decide whether a card is required. The card is
a document like ``wfgy.yaml``, checked when the config loads (`wfgy_rules.run.config_documents`):
a key the schema does not know (``tokenizer_sha256``: ``unknown key 'tokenizer_sha256' (did you
mean 'tokenizer_sha'?)``), a value of the wrong type (``"requires_gpu": "yes"``) or text that is
not JSON stops ``validate``, ``eval``, ``preflight`` and ``facts`` alike with exit 2 and one
``FILE:LINE:COL: json.path: message`` line per problem (``model-card.json:3:12: torch: expected
string, got 2.1 (number)``), before any rule runs. A team's own keys go under ``custom``
(``{"custom": {"owner": "ml-platform"}}``, read as ``model_card.declared.custom.owner``). Should
the card change between that check and the gathering, the provider raises `ProviderError` with
the same lines, so no rule compares against a half-read card.
`wfgy_rules.providers.model.model_card_lock` writes a card from what is really installed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from wfgy_rules.documents.schema import validate
from wfgy_rules.documents.yamlio import load_text, read_text
from wfgy_rules.errors import PolicyError, Problem, ProviderError
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.configured_paths import not_there

DEFAULT_PATH = "model-card.json"

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "model_card provider",
    "description": "The declared model card, compared by the SemVers Diff guard with the runtime facts.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "path": {
            "title": "Path",
            "description": "The model card file (JSON, schema model-card), relative to wfgy.yaml.",
            "type": "string",
            "minLength": 1,
            "default": DEFAULT_PATH,
        },
    },
}


class ModelCardProvider:
    """Facts about the declared model card (see the module docstring)."""

    config_schema = CONFIG_SCHEMA

    def collect(self, config: Mapping[str, Any], ctx: ProviderContext) -> dict[str, Any]:
        configured = config.get("path", DEFAULT_PATH)
        path = ctx.resolve(configured)
        if not path.exists():
            if "path" in config:
                raise ProviderError(not_there("model_card path", configured) + "; write it with `wfgy-rules lock`")
            return {"present": False, "path": configured, "declared": None}
        try:
            declared = load_model_card(path)
        except PolicyError as exc:
            raise ProviderError("; ".join(exc.lines())) from None
        return {"present": True, "path": configured, "declared": declared}


def load_model_card(path: Path, shown: str | None = None) -> dict[str, Any]:
    """The parsed, schema-checked card; raises `PolicyError` listing every problem of the file,
    each naming it ``shown`` (default: ``path`` as given).

    The card is strict JSON, as every other reader of it will parse it (no comments, no
    trailing commas, ``1e5`` is a number); the YAML reading of the same text only supplies
    the line and column of each value, and refuses duplicate keys.
    """
    shown = shown or str(path)
    text = read_text(path, shown)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError("invalid JSON", [Problem(shown, f"invalid JSON: {exc.msg}", exc.lineno, exc.colno)]) from None
    document = replace(load_text(text, shown), data=data)
    problems = validate(document, "model-card")
    if problems:
        raise PolicyError(f"{shown}: invalid model card", problems)
    return document.data
