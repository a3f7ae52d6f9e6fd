"""Regenerate the parts of ``schemas/*.json`` that come from code, so the published schemas
cannot drift from the registries that define each name:

============================  ====================================================
``providers.<name>``          each built-in provider's ``config_schema`` (+ ``timeout``),
                              providers found through the entry-point registry
severities                    `wfgy_rules.model.Severity`
remedy actions                `wfgy_rules.model.ACTIONS`
statuses                      `wfgy_rules.model.Status`
condition operators           `wfgy_rules.policy.operators.OPERATORS`
``ignore_versions`` levels    `wfgy_rules.policy.versions.DRIFT_LEVELS`
stages, ``--stage`` choices   `wfgy_rules.model.STAGES`, `wfgy_rules.model.STAGE_SELECTIONS`
============================  ====================================================

    python scripts/sync_schemas.py          # rewrite the files
    python scripts/sync_schemas.py --check  # exit 1 (naming the stale files) when out of date
    python scripts/sync_schemas.py --check --schemas DIR   # another copy of schemas/

``tests/documents/test_schema_files.py`` runs the check.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from wfgy_rules.model import ACTIONS, STAGE_SELECTIONS, STAGES, Severity, Status
from wfgy_rules.policy.operators import OPERATORS
from wfgy_rules.policy.versions import DRIFT_LEVELS
from wfgy_rules.providers import registry

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
TIMEOUT = {
    "title": "Timeout",
    "description": "How long the provider may take before its rules become errors (default 30s).",
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)?$"}],
}
SEVERITIES = list(Severity.__members__)
STATUSES = [status.value for status in Status]

# schema name -> [(path of keys to the object whose "enum" is generated, the names)]
ENUMS: dict[str, list[tuple[tuple[Any, ...], list[str]]]] = {
    "config": [
        (("$defs", "severity"), SEVERITIES),
        (("$defs", "override", "properties", "action"), list(ACTIONS)),
        (("properties", "ignore_versions", "items"), list(DRIFT_LEVELS[1:])),
    ],
    "policy": [
        (("$defs", "severity"), SEVERITIES),
        (("$defs", "remedy", "properties", "action"), list(ACTIONS)),
        (("$defs", "condition", "properties", "op"), list(OPERATORS)),
        (("$defs", "stage"), list(STAGES)),
    ],
    "policy-test": [
        (("properties", "cases", "items", "properties", "expect", "additionalProperties", "anyOf", 0), STATUSES),
        (("properties", "cases", "items", "properties", "expect", "additionalProperties", "anyOf", 1, "properties", "status"), STATUSES),
    ],
    "report": [
        (("properties", "fail_on"), SEVERITIES),
        (("properties", "results", "items", "properties", "severity"), SEVERITIES),
        (("properties", "results", "items", "properties", "status"), STATUSES),
        (("properties", "results", "items", "properties", "action"), list(ACTIONS)),
        (("properties", "stage"), list(STAGE_SELECTIONS)),
        (("properties", "results", "items", "properties", "stage"), list(STAGES)),
    ],
}


def builtin_providers() -> list[str]:
    """The providers this distribution registers (plugins' sections are theirs to publish)."""
    return sorted(name for name, point in registry.available().items() if point.value.startswith("wfgy_rules."))


def expected(name: str, schemas: Path = SCHEMAS) -> dict[str, Any]:
    schema = json.loads((schemas / f"{name}.schema.json").read_text(encoding="utf-8"))
    for path, names in ENUMS.get(name, []):
        node = schema
        for key in path:
            node = node[key]
        node["enum"] = names
    if name == "config":
        properties = {}
        for provider in builtin_providers():
            own = copy.deepcopy(registry.load(provider).config_schema)
            own.setdefault("properties", {})["timeout"] = TIMEOUT
            properties[provider] = own
        schema["properties"]["providers"]["properties"] = properties
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    schemas = Path(argv[argv.index("--schemas") + 1]) if "--schemas" in argv else SCHEMAS
    stale = []
    for name in ENUMS:
        path = schemas / f"{name}.schema.json"
        text = render(expected(name, schemas))
        if path.read_text(encoding="utf-8") != text:
            stale.append(path.name)
            if "--check" not in argv:
                path.write_text(text, encoding="utf-8")
    if stale and "--check" in argv:
        print(f"out of date: {', '.join(stale)} (run python scripts/sync_schemas.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
