"""The ``file`` provider: JSON / YAML files named in config become facts.

Guards over any config file, without Python::

    # wfgy.yaml
    providers:
      file:
        files:
          serving: deploy/serving.yaml     # facts under file.serving
          limits: deploy/limits.json       # facts under file.limits

    # a policy
    - id: team.max-len-fits-context
      facts: [file, model_card]
      assert: "file.serving.max_model_len <= model_card.declared.context_length"

Files are read with the same safe loader as policies (no object tags, no duplicate keys,
size-limited). A file that is missing or malformed makes every rule reading ``file`` an
``error`` result naming the file: a guard over a config that is not there fails closed.

A file of several YAML documents (a ``---`` stream: ``helm template`` or ``kustomize build``
output) becomes the list of its documents, empty ones left out, so a team can write its own
rule over a whole rendered chart::

    - id: team.every-deployment-has-replicas
      facts: [file]
      for_each: "file.chart[?kind == 'Deployment']"
      assert: "item.spec.replicas >= `2`"

A file of one document stays that document (a mapping, as before).

The facts are the files' data; their positions stay in the files. SARIF and GitHub
annotations place a result of a rule over ``file.serving.max_model_len`` at
``max_model_len:`` in ``deploy/serving.yaml`` (a ``for_each`` element at its entry), read
again from where this config names the file (`wfgy_rules.reporters.locations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfgy_rules.documents.yamlio import load_stream, load_text, read_text
from wfgy_rules.errors import PolicyError, ProviderError
from wfgy_rules.providers.base import ProviderContext


class FileProvider:
    config_schema: dict[str, Any] = {
        "title": "file provider",
        "description": "JSON or YAML files whose content becomes facts under file.<name>.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "files": {
                "title": "Files",
                "description": "Fact name → path (relative to wfgy.yaml).",
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "additionalProperties": {"type": "string", "minLength": 1},
            }
        },
    }

    def collect(self, config: Mapping[str, Any], ctx: ProviderContext) -> dict[str, Any]:
        facts: dict[str, Any] = {}
        for name, path in sorted(config.get("files", {}).items()):
            try:
                facts[name] = _data(ctx.resolve(path), path)
            except PolicyError as exc:
                raise ProviderError("; ".join(exc.lines())) from None
        return facts


def _data(path: Path, shown: str) -> Any:
    """One document's data, or the list of a stream's documents (see the module docstring)."""
    text = read_text(path, shown)
    documents = load_stream(text, shown)
    return [d.data for d in documents] if len(documents) > 1 else load_text(text, shown).data
