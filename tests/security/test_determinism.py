"""The same inputs give byte-identical reports (SPEC §10): across runs, across
``PYTHONHASHSEED`` values, and across the order in which the policy files were created.

Two project directories hold the same files under the same relative paths, written in
opposite orders (so directory listing order and modification times differ); every format
in `wfgy_rules.reporters.FORMATS` is written in one run with ``--report``. The project
mixes every kind of result: pass, fail, skip, error, waived, and ``for_each`` elements.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.helpers import run_cli
from wfgy_rules.reporters import FORMATS

MACHINE_READABLE = [fmt for fmt in ("json", "sarif", "junit") if fmt in FORMATS]

FILES = {
    "wfgy.yaml": """\
apiVersion: wfgy-rules/v1
kind: Config
policies: [./policies]
providers:
  file: {files: {serving: serving.yaml, limits: limits.json}}
waivers:
  - {rule: beta.waived, reason: accepted until the next release, expires: 2999-01-01}
""",
    "serving.yaml": "max_model_len: 8192\nreplicas: 1\nmodels: [{name: a, gpus: 2}, {name: b, gpus: 0}, {name: c, gpus: 9}]\nlabels: {z: 1, a: 2, m: 3}\n",
    "limits.json": '{"max_gpus": 4, "context": 4096, "zeta": [3, 1, 2], "alpha": {"y": 1, "x": 2}}',
    "policies/alpha.yaml": """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: alpha}
rules:
  - {id: alpha.len, title: length, severity: high, facts: [file], assert: "file.serving.max_model_len <= file.limits.context",
     message: "len {{ file.serving.max_model_len }} labels {{ file.serving.labels }} limits {{ file.limits }}"}
  - {id: alpha.replicas, title: replicas, severity: low, facts: [file], assert: {key: file.serving.replicas, op: ge, value: 2}}
  - {id: alpha.skip, title: skipped, severity: low, facts: [file], when: "file.serving.missing", assert: "`true`"}
""",
    "policies/nested/beta.yaml": """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: beta}
rules:
  - id: beta.gpus
    title: per-model GPU budget
    severity: medium
    facts: [file]
    for_each: file.serving.models
    assert: {key: item.gpus, op: le, value_from: file.limits.max_gpus}
    message: "model {{ item.name }} (#{{ index }}) wants {{ item.gpus }} GPUs"
  - {id: beta.error, title: type error, severity: high, facts: [file], assert: {key: file.serving.replicas, op: lt, value: "3"}}
  - {id: beta.waived, title: waived, severity: high, facts: [file], assert: "`false`"}
  - {id: beta.pass, title: passes, severity: info, facts: [file], assert: "length(keys(file.limits.alpha)) == `2`"}
""",
    "policies/gamma.yml": """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: gamma}
rules:
  - {id: gamma.sort, title: sorted, severity: low, facts: [file], assert: "sort(file.limits.zeta) == file.limits.zeta"}
""",
}


def make_project(root: Path, order: list[str]) -> Path:
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(FILES[name])
        time.sleep(0.01)  # distinct modification times
    return root


def reports(root: Path, out: Path, seed: str, *extra: str) -> dict[str, bytes]:
    out.mkdir()
    args = [f"--report={fmt}={out / fmt}" for fmt in FORMATS]
    done = run_cli("eval", *extra, *args, cwd=root, env={"PYTHONHASHSEED": seed})
    assert done.returncode == 1, done.stderr
    written = {fmt: (out / fmt).read_bytes() for fmt in FORMATS}
    written["stdout"] = done.stdout.encode()
    return written


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[dict[str, bytes]]:
    names = sorted(FILES)
    first = make_project(tmp_path_factory.mktemp("a"), names)
    second = make_project(tmp_path_factory.mktemp("b"), list(reversed(names)))
    out = tmp_path_factory.mktemp("out")
    return [
        reports(first, out / "1", "0"),
        reports(first, out / "2", "1"),
        reports(second, out / "3", "4242"),
        reports(second, out / "4", "0"),
    ]


def test_the_project_covers_every_kind_of_result(runs):
    report = json.loads(runs[0]["json"])
    assert {k for k, v in report["summary"].items() if v} == {"pass", "fail", "skip", "error", "waived"}
    assert [r["rule_id"] for r in report["results"]][:3] == ["alpha.len", "alpha.replicas", "alpha.skip"]


@pytest.mark.parametrize("fmt", [*FORMATS, "stdout"])
def test_reports_are_byte_identical_across_seeds_runs_and_creation_orders(runs, fmt):
    first = runs[0][fmt]
    assert first
    for other in runs[1:]:
        assert other[fmt] == first


def test_machine_readable_formats_exist(runs):
    assert MACHINE_READABLE, "no json/sarif/junit format to pin"
    for fmt in MACHINE_READABLE:
        assert runs[0][fmt]


def test_judging_a_written_bundle_gives_the_same_verdicts(runs, tmp_path):
    """Gather on one machine (``facts``), judge on another (``eval --facts``): same results."""
    root = make_project(tmp_path / "p", sorted(FILES))
    facts = run_cli("facts", "--output", "facts.json", cwd=root)
    assert facts.returncode == 0, facts.stderr
    later = reports(root, tmp_path / "later", "7", "--facts", "facts.json")
    assert json.loads(later["json"])["results"] == json.loads(runs[0]["json"])["results"]
    assert json.loads(later["json"])["facts_digest"] == json.loads(runs[0]["json"])["facts_digest"]
