"""The published schemas: valid, documented for editors, and in sync with the code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import jsonschema
import pytest

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


@pytest.mark.parametrize(("schema", "enum_owner", "name"), [
    ("policy", ("$defs", "condition", "properties", "op"), "version_ge"),
    ("policy", ("$defs", "remedy", "properties", "action"), "fallback"),
    ("report", ("properties", "results", "items", "properties", "status"), "waived"),
])
def test_the_sync_check_fails_when_a_schema_drifts_from_its_registry(tmp_path, schema, enum_owner, name):
    copy = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", copy)
    path = copy / f"{schema}.schema.json"
    data = json.loads(path.read_text())
    node = data
    for key in enum_owner:
        node = node[key]
    node["enum"].remove(name)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "sync_schemas.py"), "--check", "--schemas", str(copy)], capture_output=True, text=True)
    assert done.returncode == 1 and f"out of date: {schema}.schema.json" in done.stderr
