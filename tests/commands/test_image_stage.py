"""The package and CUDA rules judge the image, not the CI runner: `eval --stage ci` leaves them
out, and the README's recipe judges them in CI from a bundle gathered inside the image
(`facts --stage deploy --only 'semvers.*'`, then `eval --facts`).

The "image" is the runner's Python with an installed torch added to its path
(`tests.installed_packages`).
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

from tests.helpers import example_repository, run_cli
from tests.installed_packages import install_torch

TORCH_SHA = "cf30153c4c131c8164ee7798e5022d810682e2cb"
IMAGE_RULES = ["semvers.torch-version", "semvers.pytorch-sha", "semvers.cuda-major", "semvers.transformers-version"]


@pytest.fixture
def locked(tmp_path: Path) -> Path:
    """The example repository whose card pins torch, its build and CUDA as `lock` wrote them in the image."""
    root = example_repository(tmp_path / "repo")
    card_path = root / "model-card.json"
    card = json.loads(card_path.read_text())
    card.update(torch="2.3.1+cu121", pytorch_sha=TORCH_SHA[:12], cuda="12.1", transformers=importlib.metadata.version("transformers"))
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return root


def results(done) -> dict[str, str]:
    return {r["rule_id"]: r["status"] for r in json.loads(done.stdout)["results"]}


def test_ci_stage_never_judges_the_packages_the_runner_lacks(locked):
    ci = run_cli("eval", "--stage", "ci", "--format", "json", cwd=locked)
    assert ci.returncode == 0, ci.stdout
    judged = results(ci)
    assert judged["semvers.tokenizer-sha"] == "pass"  # the repository's files are still judged
    assert not set(IMAGE_RULES) & set(judged)
    listed = run_cli("list", "--format", "json", "--stage", "ci", cwd=locked)
    assert not set(IMAGE_RULES) & {rule["id"] for rule in json.loads(listed.stdout)["rules"]}
    everything = run_cli("eval", "--only", "semvers.torch-version", "--format", "json", cwd=locked)
    assert everything.returncode == 1 and results(everything) == {"semvers.torch-version": "fail"}  # the runner has no torch


def test_the_image_is_judged_in_ci_from_a_bundle_gathered_in_it(locked, tmp_path):
    bundle = tmp_path / "facts.json"
    gathered = run_cli("facts", "--stage", "deploy", "--only", "semvers.*", "-o", str(bundle), cwd=locked,
                       env={"PYTHONPATH": str(install_torch(tmp_path / "image", "2.3.1+cu121", "12.1", TORCH_SHA))})
    assert gathered.returncode == 0, gathered.stderr
    facts = json.loads(bundle.read_text())
    assert sorted(facts) == ["model_card", "runtime"]  # no NVML, secrets or env: the semvers rules read none
    assert (facts["runtime"]["packages"]["torch"], facts["runtime"]["cuda"]) == ("2.3.1+cu121", {"compiled": "12.1", "source": "torch"})

    judged = run_cli("eval", "--facts", str(bundle), "--only", "semvers.*", "--format", "json", cwd=locked)
    assert judged.returncode == 0, judged.stdout
    assert {rule: results(judged)[rule] for rule in IMAGE_RULES} == dict.fromkeys(IMAGE_RULES, "pass")


def test_an_image_with_another_torch_fails_from_its_bundle(locked, tmp_path):
    bundle = tmp_path / "facts.json"
    site = install_torch(tmp_path / "image", "2.4.0+cu121", "12.1", TORCH_SHA)
    assert run_cli("facts", "--stage", "deploy", "--only", "semvers.*", "-o", str(bundle), cwd=locked, env={"PYTHONPATH": str(site)}).returncode == 0
    judged = run_cli("eval", "--facts", str(bundle), "--only", "semvers.*", cwd=locked)
    assert judged.returncode == 1
    assert "torch 2.4.0+cu121 installed; model card says 2.3.1+cu121 (tolerated drift: [\"patch\"])" in judged.stdout


def test_facts_only_names_rules(locked):
    done = run_cli("facts", "--only", "semvers.nope", cwd=locked)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "semvers.nope" in done.stderr
