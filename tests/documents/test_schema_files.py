"""The published schemas: valid, documented for editors, and in sync with the code."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema

from tests.helpers import REPO

NAMES = ("policy", "config", "policy-test", "model-card", "prompt-vars", "report")


def _properties(node, where=""):
    if isinstance(node, dict):
        for key, sub in node.get("properties", {}).items():
            yield f"{where}.{key}", sub
            yield from _properties(sub, f"{where}.{key}")
        for key in ("$defs",):
            for name, sub in node.get(key, {}).items():
                yield from _properties(sub, f"{where}/{name}")
        for key in ("items", "additionalProperties", "not"):
            if isinstance(node.get(key), dict):
                yield from _properties(node[key], f"{where}[]")
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []):
                yield from _properties(sub, where)


def test_every_schema_is_valid_with_a_stable_id_and_documented_properties():
    for name in NAMES:
        schema = json.loads((REPO / "schemas" / f"{name}.schema.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == f"https://wfgy-rules.dev/schemas/{name}.schema.json"
        assert schema.get("title") and schema.get("description"), name
        undocumented = [where for where, sub in _properties(schema) if not (sub.get("description") or sub.get("$ref"))]
        assert undocumented == [], (name, undocumented)


def test_config_schema_is_in_sync_with_the_providers():
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "sync_schemas.py"), "--check"])
    assert done.returncode == 0, "schemas/config.schema.json is stale: run python scripts/sync_schemas.py"
