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

The facts are the files' data; their positions stay in the files. SARIF and GitHub
annotations place a result of a rule over ``file.serving.max_model_len`` at
``max_model_len:`` in ``deploy/serving.yaml`` (a ``for_each`` element at its entry), read
again from where this config names the file (`wfgy_rules.reporters.locations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfgy_rules.documents.yamlio import load_file
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
                facts[name] = load_file(ctx.resolve(path), path).data
            except PolicyError as exc:
                raise ProviderError("; ".join(exc.lines())) from None
        return facts
