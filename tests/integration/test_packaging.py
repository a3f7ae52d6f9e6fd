"""The wheel ships schemas/ and rules/ inside the package and registers every provider; the
version is written once (``wfgy_rules/__init__.py``) and a wheel says just that; the release
build (sdist, then the wheel from it) passes ``twine check``."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO
from wfgy_rules import __version__


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
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert f"\nVersion: {__version__}\n" in metadata and wheel.name == f"wfgy_rules-{__version__}-py3-none-any.whl"
    done = subprocess.run([sys.executable, "-m", "wfgy_rules", "--version"], cwd=elsewhere, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(unpacked)}, check=True)
    assert done.stdout == f"wfgy-rules {__version__}\n"  # installed from a wheel: no commit to show


def test_the_version_is_written_in_one_place():
    project = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r"(?m)^version\s*=", project) is None and re.search(r'(?m)^dynamic = \["version"\]', project)
    assert '[tool.hatch.version]\npath = "wfgy_rules/__init__.py"' in project
    written = [p.relative_to(REPO).as_posix() for p in REPO.glob("wfgy_rules/**/*.py") if re.search(r"(?m)^__version__\s*=", p.read_text(encoding="utf-8"))]
    assert written == ["wfgy_rules/__init__.py"]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("build") is None or importlib.util.find_spec("twine") is None,
                    reason="build and twine are not installed (pip install build twine, in the test extra)")
def test_the_release_build_passes_twine_check(tmp_path):
    """RELEASING.md's build: ``python -m build`` (the sdist, then the wheel built from the
    sdist, so a file the sdist lacks fails here), then ``twine check``. About 30 s."""
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sdist, wheel = tmp_path / f"wfgy_rules-{__version__}.tar.gz", tmp_path / f"wfgy_rules-{__version__}-py3-none-any.whl"
    assert sdist.is_file() and wheel.is_file(), sorted(p.name for p in tmp_path.iterdir())
    members = tarfile.open(sdist).getnames()
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "wfgy_rules/__init__.py", "rules/prompt-lint.yaml", "schemas/policy.schema.json"):
        assert f"wfgy_rules-{__version__}/{needed}" in members, needed
    assert not [m for m in members if "/.venv/" in m or "/.git/" in m or "__pycache__" in m]
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.count("PASSED") == 2, done.stdout + done.stderr
