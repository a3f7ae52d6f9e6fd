"""What only the CLI shows about which config and which rules a run uses: discovery from a
subdirectory, the line on stderr, selections that match nothing, and ``--stage``."""

from __future__ import annotations

import json
import subprocess

import jsonschema

from tests.helpers import REPO, TEAM_POLICY, run_cli

DEPLOY_RULE = """\
  - id: team.replicas
    title: at least two replicas
    severity: medium
    stage: deploy
    facts: [file]
    assert: {key: file.serving.replicas, op: ge, value: 2}
"""


def test_from_a_subdirectory_the_projects_config_and_rules_run(project):
    (project / "wfgy.yaml").write_text((project / "wfgy.yaml").read_text().replace("policies: [./team.yaml]", "policies: [builtin, ./team.yaml]"))
    (project / "prompts").mkdir()
    (project / "prompts" / "a.txt").write_text("Hi {{ name }}\n")
    (project / "wfgy.yaml").write_text((project / "wfgy.yaml").read_text() + "  prompts: {paths: [prompts/*]}\n")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    sub = project / "services" / "bot"
    sub.mkdir(parents=True)
    done = run_cli("eval", "--only", "prompt.undeclared-placeholder", "--only", "team.*", cwd=sub)
    assert done.returncode == 1
    assert done.stderr == "wfgy-rules: config ../../wfgy.yaml\n"
    assert "• ../../prompts/a.txt:1:7: name (jinja2) has no default" in done.stdout
    assert "✔ max length fits context .. OK" in done.stdout


def test_without_a_config_the_run_says_only_builtin_defaults_apply(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "wgfy.yaml").write_text("ignore_versions: [minor]\n")
    done = run_cli("eval", "--stage", "ci", "--only", "prompt.*", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["outcome"] == "pass"
    assert done.stderr == ("wfgy-rules: no wfgy.yaml in . or above (up to the repository root); only the built-in packs run, "
                           "with default settings; wgfy.yaml is not read: rename to wfgy.yaml\n")


def test_a_selection_that_matches_nothing_exits_2_with_a_hint(project):
    done = run_cli("eval", "--only", "taem.*", cwd=project)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: --only 'taem.*' matches no loaded rule (did you mean 'team.*'?); see 'wfgy-rules list'\n"
    done = run_cli("eval", "--skip", "team.max-lenght", cwd=project)
    assert done.returncode == 2 and "did you mean 'team.max-len'?" in done.stderr


def test_stage_selects_rules_and_the_report_says_which(project):
    (project / "team.yaml").write_text(TEAM_POLICY + DEPLOY_RULE)
    (project / "serving.yaml").write_text("max_model_len: 2048\nreplicas: 1\n")
    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text())

    ci = run_cli("eval", "--stage", "ci", "--format", "json", cwd=project)
    report = json.loads(ci.stdout)
    jsonschema.validate(report, schema)
    assert ci.returncode == 0 and report["stage"] == "ci"
    assert [(r["rule_id"], r["stage"]) for r in report["results"]] == [("team.max-len", "any")]

    everything = json.loads(run_cli("eval", "--format", "json", cwd=project).stdout)
    assert everything["stage"] == "all" and [r["rule_id"] for r in everything["results"]] == ["team.max-len", "team.replicas"]

    preflight = run_cli("preflight", "--format", "json", "--output", "report.json", cwd=project)
    assert preflight.returncode == 1
    assert json.loads((project / "report.json").read_text())["stage"] == "deploy"
    assert run_cli("preflight", "--stage", "ci", cwd=project).returncode == 0

    listed = json.loads(run_cli("list", "--stage", "deploy", "--format", "json", cwd=project).stdout)["rules"]
    assert [(r["id"], r["stage"]) for r in listed] == [("team.max-len", "any"), ("team.replicas", "deploy")]
    assert "  stage:     deploy\n" in run_cli("explain", "team.replicas", cwd=project).stdout
    done = run_cli("eval", "--stage", "ci", "--only", "team.replicas", cwd=project)
    assert done.returncode == 2
    assert done.stderr == "error: --only team.replicas: its 1 rule(s) are of stage deploy; --stage ci runs any and ci rules\n"
