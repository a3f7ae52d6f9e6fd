"""The wheel ships schemas/ and rules/ inside the package and registers every provider."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import REPO


def test_wheel_contains_resources_and_finds_them_from_elsewhere(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("wfgy_rules-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("wfgy_rules/schemas/policy.schema.json", "wfgy_rules/schemas/report.schema.json",
                   "wfgy_rules/rules/semvers-diff.yaml", "wfgy_rules/rules/prompt-lint.yaml",
                   "wfgy_rules/providers/env/env_names.yaml"):
        assert needed in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for provider in ("file", "model_card", "runtime", "env", "secrets", "nvml", "prompts"):
        assert f"{provider} = wfgy_rules.providers." in entry_points
    assert "wfgy-rules = wfgy_rules.cli:main" in entry_points
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = "from wfgy_rules.resources import resource_path; print(resource_path('rules')); print(resource_path('schemas/policy.schema.json').is_file())"
    done = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(unpacked)}, check=True)
    rules_dir, schema_found = done.stdout.split()
    assert Path(rules_dir) == unpacked / "wfgy_rules" / "rules" and schema_found == "True"
    # The env provider's tables (real variable names, aliases, key shapes) load from the wheel.
    probe = ("from wfgy_rules.providers.env import env, env_tables; t = env.tables(); "
             "print(env_tables.TABLES_PATH.is_relative_to(%r), t.readers['HUGGING_FACE_HUB_TOKEN'][0], env.value_kind('gsk_x'))" % str(unpacked))
    done = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(unpacked)}, check=True)
    assert done.stdout.split() == ["True", "huggingface_hub", "groq_key"]
