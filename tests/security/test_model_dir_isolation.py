"""A damaged file in the model directory (JSON nested past the parser's depth, invalid JSON,
not UTF-8) stays in that file's fact: the runtime provider still reports packages, CUDA and
the other files, so only the rules about that file fail, never the whole provider."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(("name", "content", "section"), [
    ("tokenizer.json", '{"model": {"type": "BPE", "vocab": {}}, "x": ' + DEEP + "}", "tokenizer"),
    ("config.json", '{"vocab_size": ' + DEEP + "}", "config"),
    ("generation_config.json", "{not json", "generation_config"),
    ("tokenizer_config.json", b'{"x": "\xff"}', "tokenizer"),
])
def test_one_damaged_file_costs_only_its_own_facts(tmp_path, name, content, section):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"vocab_size": 10}')
    if isinstance(content, bytes):
        (model / name).write_bytes(content)
    else:
        (model / name).write_text(content)
    (tmp_path / "wfgy.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Config\nproviders: {runtime: {model_dir: model}}\n")
    done = run_cli("facts", "--provider", "runtime", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert "_errors" not in facts
    runtime = facts["runtime"]
    assert name in runtime["model_dir"][section]["error"] and "packages" in runtime
    judged = run_cli("eval", "--policy", "builtin", "--only", "semvers.*", "-f", "json", cwd=tmp_path)
    results = {r["rule_id"]: r["status"] for r in json.loads(judged.stdout)["results"]}
    readable = "semvers.tokenizer-readable" if section == "tokenizer" else "semvers.model-files-readable"
    assert results[readable] == "fail"
    assert "error" not in results.values(), results
