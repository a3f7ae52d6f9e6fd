"""``wfgy-rules diff`` through the real CLI, on the example service."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO, run_cli

EXAMPLE = REPO / "policies.example"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    target = tmp_path / "example"
    shutil.copytree(EXAMPLE, target)
    return target


def test_the_example_shows_the_tokenizer_drift_first(example):
    done = run_cli("diff", cwd=example)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["declared → effective", "model_card ↔ runtime"]
    tokenizer = next(line for line in lines if "tokenizer_sha" in line)
    locked, now = json.loads((example / "model-card.json").read_text())["tokenizer_sha"], _tokenizer_sha(example)
    assert tokenizer.split() == ["≠", "drifted", "tokenizer_sha", "↔", "runtime.model_dir.tokenizer.sha256", locked[:12], now[:12]]
    assert lines[lines.index(tokenizer) + 1].strip() == "↳ tokenizer_config.json: add_eos_token false → true"  # what changed
    assert lines.index(tokenizer) < 5
    assert max(map(len, lines)) <= 100
    assert any(line.split()[:3] == ["=", "equal", "customer_name"] for line in lines)
    assert any(line.split()[:3] == ["+", "extra", "ticket_id"] and "no default, not declared" in line for line in lines)
    assert run_cli("diff", "--exit-code", cwd=example).returncode == 1


def _tokenizer_sha(project: Path) -> str:
    return json.loads(run_cli("facts", "--provider", "runtime", cwd=project).stdout)["runtime"]["model_dir"]["tokenizer"]["sha256"]


def test_json_and_markdown(example):
    data = json.loads(run_cli("diff", "--format", "json", cwd=example).stdout)
    assert data["mode"] == "declared-vs-effective" and data["drifted"] is True
    row = next(r for r in data["rows"] if r["field"].startswith("tokenizer_sha"))
    locked = json.loads((example / "model-card.json").read_text())["tokenizer_sha"]
    assert (row["declared"], row["effective"], row["mark"]) == (locked, _tokenizer_sha(example), "drifted")  # whole hashes
    assert row["note"] == "tokenizer_config.json: add_eos_token false → true"
    markdown = run_cli("diff", "--format", "markdown", cwd=example).stdout
    assert markdown.startswith("### wfgy-rules diff: declared → effective")
    assert f"| ≠ drifted | `tokenizer_sha ↔ runtime.model_dir.tokenizer.sha256` | {locked[:27]}… |" in markdown


def test_paths_are_shown_from_where_you_run_as_eval_shows_them():
    diff = run_cli("diff", "--config", "policies.example/wfgy.yaml", cwd=REPO).stdout
    evaluated = run_cli("eval", "--config", "policies.example/wfgy.yaml", "--only", "prompt.*", cwd=REPO).stdout
    assert "policies.example/prompts/support.jinja:4: no default, not declared" in diff
    assert "policies.example/prompts/support.jinja:4:25: ticket_id" in evaluated
    rows = json.loads(run_cli("diff", "--config", "policies.example/wfgy.yaml", "--format", "json", cwd=REPO).stdout)["rows"]
    assert {"section": "secrets", "field": "OPENAI_API_KEY", "declared": "required",
            "effective": "present (dir:policies.example/secrets)", "mark": "equal"} in rows
    inside = run_cli("diff", cwd=EXAMPLE).stdout  # from the config's own directory: as configured
    assert "prompts/support.jinja:4: no default, not declared" in inside and "present (dir:secrets)" in inside


def test_two_bundles_say_what_changed(example, tmp_path):
    old, new = tmp_path / "good.json", tmp_path / "candidate.json"
    assert run_cli("facts", "--output", str(new), cwd=example).returncode == 0
    facts = json.loads(new.read_text())
    facts["runtime"]["packages"]["tokenizers"] = "0.19.1"
    facts["runtime"]["model_dir"]["tokenizer"]["sha256"] = "ad4c1b9" + "0" * 57
    old.write_text(json.dumps(facts))
    done = run_cli("diff", "--facts", str(old), "--facts", str(new), cwd=example)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "old (good.json) → new (candidate.json)"
    changed = [line.split()[:3] for line in done.stdout.splitlines() if line.startswith("  ")]
    assert changed == [["≠", "drifted", "runtime.model_dir.tokenizer.sha256"], ["≠", "drifted", "runtime.packages.tokenizers"]]
    assert "minor drift" in done.stdout and "equal fields hidden" in done.stdout
    data = json.loads(run_cli("diff", "--facts", str(old), "--facts", str(new), "--format", "json", "--all", cwd=example).stdout)
    assert data["old"] == "good.json" and data["summary"]["drifted"] == 2 and data["summary"]["equal"] > 50
    assert run_cli("diff", "--facts", str(old), "--facts", str(old), "--exit-code", cwd=example).returncode == 0


def test_bad_input_exits_2_in_one_line(example):
    for args, expected in ((["--format", "xml"], "error: --format 'xml' is not one of: text, json, markdown"),
                           (["--facts", "nope.json"], "nope.json: no such fact bundle file"),
                           (["--facts", "a", "--facts", "b", "--facts", "c"], "error: --facts: give one bundle")):
        done = run_cli("diff", *args, cwd=example)
        assert done.returncode == 2 and done.stderr.startswith(expected), done.stderr
