"""The documents a config names besides its policies, checked when the config loads.

Two provider settings name documents of wfgy-rules' own, with a schema each::

    providers:
      model_card: {path: model-card.json}     # the default when the section is absent
      prompts: {vars: prompt_vars.yaml}       # no default: checked only when configured

They are part of the config as much as ``wfgy.yaml`` itself: a card key the schema does not
know (``tokenizer_sha256``), a value of the wrong type (``"requires_gpu": "yes"``), a
variables file that breaks its schema, is exit 2 with one ``FILE:LINE:COL: json.path:
message`` line per problem, before any provider gathers or any rule runs. `load_config`
(`wfgy_rules.run.config`) runs this check, so ``validate``, ``eval``, ``preflight``,
``facts``, ``diff`` and ``lock`` refuse the same files with the same lines::

    model-card.json:3:3: tokenizer_sha256: unknown key 'tokenizer_sha256' (did you mean 'tokenizer_sha'?)
    model-card.json:4:19: requires_gpu: expected boolean, got "yes" (string)

A named file that does not exist is not checked here: its provider reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfgy_rules.errors import Problem, WfgyError
from wfgy_rules.providers.model.model_card import DEFAULT_PATH as MODEL_CARD_PATH
from wfgy_rules.providers.model.model_card import load_model_card
from wfgy_rules.providers.prompts.prompt_vars import load_prompt_vars
from wfgy_rules.shown_paths import shown_path


@dataclass(frozen=True)
class NamedDocument:
    """A provider setting that names a document, and the loader that checks it."""

    provider: str
    setting: str
    default: str | None  # the file read when the setting is absent (None: nothing)
    load: Callable[[Path, str], Any]  # raises `WfgyError` listing every problem


DOCUMENTS = (
    NamedDocument("model_card", "path", MODEL_CARD_PATH, load_model_card),
    NamedDocument("prompts", "vars", None, load_prompt_vars),
)


def named_documents(providers: Mapping[str, Any], base_dir: Path) -> list[tuple[NamedDocument, Path]]:
    """The documents the provider settings name that exist, each with its path."""
    found = []
    for named in DOCUMENTS:
        section = providers.get(named.provider)
        spec = section.get(named.setting, named.default) if isinstance(section, dict) else named.default
        if not isinstance(spec, str):
            continue
        path = Path(spec) if Path(spec).is_absolute() else base_dir / spec
        if path.is_file():
            found.append((named, path))
    return found


def document_problems(providers: Mapping[str, Any], base_dir: Path) -> tuple[list[Problem], list[str]]:
    """Every problem of the documents the provider settings name (in `DOCUMENTS` order), and
    the shown paths of the documents checked."""
    problems: list[Problem] = []
    checked = []
    for named, path in named_documents(providers, base_dir):
        shown = shown_path(path)
        checked.append(shown)
        try:
            named.load(path, shown)
        except WfgyError as exc:
            problems.extend(exc.problems or [Problem(shown, str(exc))])
    return problems, checked
