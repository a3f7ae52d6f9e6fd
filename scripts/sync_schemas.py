"""Regenerate the parts of ``schemas/config.schema.json`` that come from code: the settings
of each built-in provider (its ``config_schema`` plus the ``timeout`` every provider takes).

    python scripts/sync_schemas.py          # rewrite the file
    python scripts/sync_schemas.py --check  # exit 1 when the file is out of date

A test runs the check, so the published schema cannot drift from the providers.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

from wfgy_rules.providers import registry

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.json"
BUILTIN = ("env", "file", "model_card", "nvml", "prompts", "runtime", "secrets")
TIMEOUT = {
    "title": "Timeout",
    "description": "How long the provider may take before its rules become errors (default 30s).",
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h)?$"}],
}


def expected() -> dict:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    properties = {}
    for name in BUILTIN:
        own = copy.deepcopy(registry.load(name).config_schema)
        own.setdefault("properties", {})["timeout"] = TIMEOUT
        properties[name] = own
    schema["properties"]["providers"]["properties"] = properties
    return schema


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    text = render(expected())
    if "--check" in sys.argv:
        sys.exit(0 if SCHEMA.read_text(encoding="utf-8") == text else 1)
    SCHEMA.write_text(text, encoding="utf-8")
