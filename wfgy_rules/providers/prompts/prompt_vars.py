"""``prompt_vars.yaml``: the variables an application declares for its prompts (the format
and what it means for placeholders: `wfgy_rules.providers.prompts.prompts`).

One loader for every reader: the config check that runs before any rule
(`wfgy_rules.run.config_documents`), ``validate`` and the ``prompts`` provider. A file that is
not valid YAML or breaks ``schemas/prompt-vars.schema.json`` is a `PolicyError` with every
problem at ``FILE:LINE:COL`` (``prompt_vars.yaml:4:29: vars.customer_name.required: expected
boolean, got "yes please" (string)``). Kept apart from the provider so that checking the file
does not import the template scanners.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wfgy_rules.documents.schema import validate
from wfgy_rules.documents.yamlio import load_file
from wfgy_rules.errors import PolicyError


def load_prompt_vars(path: Path, shown: str) -> dict[str, Any]:
    """The declarations, name → declaration (a mapping, or the short form's default)."""
    document = load_file(path, shown)
    problems = validate(document, "prompt-vars")
    if problems:
        raise PolicyError(f"{shown}: invalid prompt variables", problems)
    return document.data["vars"]


def resolves(declaration: Any) -> bool:
    """Whether a declaration guarantees a value: a ``default``, or ``required: true`` (the
    application always supplies it); the short form is a default."""
    if isinstance(declaration, dict):  # the long form
        return "default" in declaration or declaration.get("required") is True
    return True
