"""The real CLI end to end, through a subprocess, as a user runs it."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
from pathlib import Path

import jsonschema
import pytest

from tests.helpers import (
    REPLICAS_RULE,
    REPO,
    TEAM_CONFIG,
    TEAM_POLICY,
    cli_command,
    read_pty,
    run_cli,
    write_project,
)

TEAM = TEAM_POLICY + REPLICAS_RULE
CONFIG = TEAM_CONFIG


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, "max_model_len: 2048\nreplicas: 2\n", TEAM)


def test_version_and_help_on_every_command():
    assert run_cli("--version").stdout.strip().startswith("wfgy-rules ")
    for command in ("eval", "facts", "validate", "list", "explain", "schema"):
        done = run_cli(command, "--help")
        assert done.returncode == 0 and "Usage: wfgy-rules" in done.stdout and "Exit codes" in done.stdout, command


def test_eval_passes_and_fails_with_the_right_exit_code(project):
    done = run_cli("eval", cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2 passed, 0 failed\n"  # passes are counted, not listed
    assert "✔ max length fits context" in run_cli("eval", "--verbose", cwd=project).stdout
    (project / "serving.yaml").write_text("max_model_len: 8192\nreplicas: 1\n")
    done = run_cli("eval", cwd=project)
    assert done.returncode == 1
    assert "✖ max length fits context" in done.stdout
    assert "• max_model_len 8192 > context 4096" in done.stdout and "hint: Lower max_model_len." in done.stdout
    assert "→ Aborting deploy (use --force to override)" in done.stdout
    assert run_cli("eval", "--fail-on", "critical", cwd=project).returncode == 0
    skipped = run_cli("eval", "--skip", "team.*", cwd=project)  # no rule left: nothing judged is no pass
    assert skipped.returncode == 2 and skipped.stderr.startswith("error: nothing was judged: --stage, --only and --skip left no rule")
    assert run_cli("eval", "--only", "team.replicas", cwd=project).returncode == 1


def test_force_exits_zero_and_records_what_it_overrode(project):
    (project / "serving.yaml").write_text("max_model_len: 8192\nreplicas: 2\n")
    done = run_cli("eval", "--force", "--format", "json", cwd=project)
    assert done.returncode == 0
    report = json.loads(done.stdout)
    assert report["forced"] is True and report["outcome"] == "pass"
    assert [o["rule_id"] for o in report["overridden"]] == ["team.max-len"]


def test_json_report_is_valid_and_byte_identical_across_runs(project):
    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    outputs = {run_cli("eval", "-f", "json", cwd=project, env={"PYTHONHASHSEED": seed}).stdout for seed in ("0", "1", "12345")}
    assert len(outputs) == 1
    report = json.loads(outputs.pop())
    jsonschema.validate(report, schema)
    digest = hashlib.sha256(f"team.yaml\0{hashlib.sha256(TEAM.encode()).hexdigest()}\n".encode()).hexdigest()
    assert report["policy_digest"] == f"sha256:{digest}"
    assert report["summary"] == {"pass": 2, "fail": 0, "skip": 0, "error": 0, "waived": 0}


def test_output_and_extra_reports_are_written(project):
    done = run_cli("eval", "--output", "out.txt", "--report", "json=r/report.json", cwd=project)
    assert done.returncode == 2 and "cannot write" in done.stderr  # r/ does not exist
    (project / "r").mkdir()
    done = run_cli("eval", "--output", "out.txt", "--report", "json=r/report.json", cwd=project)
    assert done.returncode == 0 and done.stdout == ""
    assert (project / "out.txt").read_text() == "2 passed, 0 failed\n"
    assert json.loads((project / "r" / "report.json").read_text())["outcome"] == "pass"
    assert sorted(p.name for p in project.rglob("*")) == ["out.txt", "r", "report.json", "serving.yaml", "team.yaml", "wfgy.yaml"]


def test_facts_then_eval_facts_file_and_fleet_directory(project):
    done = run_cli("facts", "--output", "facts.json", cwd=project)
    assert done.returncode == 0, done.stderr
    bundle = json.loads((project / "facts.json").read_text())
    assert bundle == {"file": {"serving": {"max_model_len": 2048, "replicas": 2}}}
    fleet = project / "fleet"
    fleet.mkdir()
    (fleet / "node-a.json").write_text(json.dumps(bundle))
    (fleet / "node-b.json").write_text(json.dumps({"file": {"serving": {"max_model_len": 9000, "replicas": 2}}}))
    done = run_cli("eval", "--facts", "fleet", "-f", "json", cwd=project)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert [(r["target"], r["rule_id"], r["status"]) for r in report["results"]] == [
        ("node-a.json", "team.max-len", "pass"), ("node-a.json", "team.replicas", "pass"),
        ("node-b.json", "team.max-len", "fail"), ("node-b.json", "team.replicas", "pass"),
    ]
    assert report["summary"]["pass"] == 3


@pytest.mark.parametrize("setup,args,expected", [
    ({"team.yaml": TEAM.replace("assert: {key", "asert: {key")}, ["eval"], "team.yaml:13:5: rules[1]: missing required key 'assert'"),
    ({"team.yaml": TEAM.replace("[file]\n    params", "[file]\n    facts: [env]\n    params")}, ["eval"], "team.yaml:9:5: rules[0].facts: duplicate key 'facts' (first defined at line 8)"),
    ({"team.yaml": TEAM.replace("file.serving.max_model_len <=", "fiel.serving.max_model_len <=")}, ["eval"], "team.yaml:10:13: rules[0].assert: reads 'fiel', which is not in facts, params (did you mean 'file'?)"),
    ({"team.yaml": TEAM + "  - id: team.replicas\n    title: dup\n    severity: low\n    facts: [file]\n    assert: file.x\n"}, ["eval"], "team.yaml:18:5: rules[2].id: duplicate rule id 'team.replicas' (also at team.yaml:13:5)"),
    ({"team.yaml": "rules: [\n"}, ["eval"], "team.yaml:2:1: invalid YAML"),
    ({"wfgy.yaml": CONFIG.replace("file:", "fille:")}, ["eval"], "wfgy.yaml:5:3: providers.fille: unknown provider 'fille'"),
    ({"wfgy.yaml": CONFIG + "fail_on: hgh\n"}, ["eval"], "wfgy.yaml:6:10: fail_on: \"hgh\" (string) is not one of: info, low, medium, high, critical (did you mean 'high'?)"),
    ({"wfgy.yaml": CONFIG + "rules: {team.nope: {enabled: false}}\n"}, ["eval"], "wfgy.yaml:6:9: rules.team.nope: override for unknown rule 'team.nope'"),
    ({}, ["eval", "--policy", "missing.yaml"], "missing.yaml: no such policy file or directory"),
    ({}, ["eval", "--config", "nope.yaml"], "nope.yaml: no such config file"),
    ({"stray.yaml": "apiVersion: wfgy-rules/v1\nkind: Polcy\n"}, ["eval", "--policy", "."], "stray.yaml:2:7: kind: \"Polcy\" (string) must be 'Policy'"),
    ({"facts.json": "{\"file\": [1,}"}, ["eval", "--facts", "facts.json"], "facts.json:1:13: not valid JSON"),
    ({"facts.json": "{\"a\": 1, \"a\": 2}"}, ["eval", "--facts", "facts.json"], "facts.json: duplicate key 'a' in a JSON object"),
    ({}, ["eval", "--format", "xml"], "--format 'xml' is not one of: text, json"),
    ({}, ["eval", "--fail-on", "urgent"], "--fail-on 'urgent' is not one of"),
    ({}, ["eval", "--facts", "serving.yaml", "--report", "nonsense"], "expected FORMAT=FILE"),
    ({}, ["explain", "team.maxlen"], "unknown rule 'team.maxlen' (did you mean 'team.max-len'?)"),
    ({}, ["schema", "polcy"], "unknown schema 'polcy'"),
    ({}, ["eval", "--bogus"], "No such option '--bogus'"),
])
def test_bad_input_is_one_clear_line_and_exit_2(project, setup, args, expected):
    for name, text in setup.items():
        (project / name).write_text(text)
    done = run_cli(*args, cwd=project)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert expected in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_policy_directory_loads_only_policies(project):
    done = run_cli("list", "--policy", ".", "--format", "json", cwd=project)
    assert done.returncode == 0, done.stderr
    assert {r["file"] for r in json.loads(done.stdout)["rules"]} == {"team.yaml"}


def test_a_type_error_at_evaluation_is_an_error_result_not_a_crash(project):
    (project / "serving.yaml").write_text("max_model_len: '2048'\nreplicas: 2\n")
    done = run_cli("eval", "-f", "json", cwd=project)
    report = json.loads(done.stdout)
    assert done.returncode == 1
    assert [(r["rule_id"], r["status"]) for r in report["results"]] == [("team.max-len", "error"), ("team.replicas", "pass")]


def test_a_missing_fact_file_errors_only_rules_that_read_it(project):
    (project / "serving.yaml").unlink()
    done = run_cli("eval", "-f", "json", cwd=project)
    report = json.loads(done.stdout)
    assert done.returncode == 1 and {r["status"] for r in report["results"]} == {"error"}
    assert "serving.yaml: no such file" in report["results"][0]["message"]


def test_validate_list_explain_schema(project):
    assert run_cli("validate", cwd=project).stdout.strip() == "ok: 2 file(s) valid"
    assert run_cli("validate", "team.yaml", "wfgy.yaml", cwd=project).returncode == 0
    (project / "bad.yaml").write_text(TEAM.replace("severity: high", "severity: hi"))
    done = run_cli("validate", "bad.yaml", cwd=project)
    assert done.returncode == 2 and "bad.yaml:7:15: rules[0].severity" in done.stderr
    listing = json.loads(run_cli("list", "--format", "json", cwd=project).stdout)["rules"]
    assert listing[0] == {
        "id": "team.max-len", "policy": "team", "file": "team.yaml", "sha256": hashlib.sha256(TEAM.encode()).hexdigest(),
        "severity": "high", "facts": ["file"], "action": "abort", "owner": "platform", "enabled": True, "waivers": [],
        "stage": "any",
    }
    table = run_cli("list", cwd=project).stdout.splitlines()
    assert table[0].split() == ["id", "policy", "stage", "severity", "action", "facts", "owner", "file", "sha256"]
    explained = run_cli("explain", "team.max-len", cwd=project).stdout
    assert "params:    {\"context\": 4096}" in explained and "trace:\n  pass" in explained
    for name in ("policy", "config", "policy-test", "report", "model-card", "prompt-vars"):
        schema = json.loads(run_cli("schema", name).stdout)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"].endswith(f"/{name}.schema.json")


def _eval_on_a_tty(project: Path, env: dict[str, str]) -> str:
    primary, secondary = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    full_env.update(env)
    subprocess.run([*cli_command(), "eval", "--verbose"], cwd=project, stdout=secondary, stderr=subprocess.DEVNULL, env=full_env, timeout=60)
    os.close(secondary)
    return read_pty(primary)


def test_colour_only_on_a_tty_and_never_with_no_color(project):
    assert "\033[32m✔" in _eval_on_a_tty(project, {})
    assert "\033[" not in _eval_on_a_tty(project, {"NO_COLOR": "1"})
    assert "\033[" not in subprocess.run([*cli_command(), "eval"], cwd=project, capture_output=True, text=True).stdout


def test_validate_a_directory_checks_only_wfgy_rules_files(project):
    (project / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\n---\nkind: Service\n")
    (project / "typo.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Polcy\n")
    done = run_cli("validate", ".", cwd=project)
    assert done.returncode == 2
    assert done.stderr.strip() == "typo.yaml:1:1: unknown file: expected kind Policy, Config, PolicyTest or PromptVars, or a model-card JSON"
    (project / "typo.yaml").unlink()
    assert run_cli("validate", ".", cwd=project).stdout.strip() == "ok: 2 file(s) valid"
    assert run_cli("validate", "deploy.yaml", cwd=project).returncode == 2  # named explicitly: must be ours
