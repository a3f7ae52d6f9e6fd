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
MINE = """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: mine}
rules:
  - {id: mine.path, title: PATH is set, severity: low, facts: [env], assert: "contains(env.names, 'PATH')"}
"""


def test_from_a_subdirectory_the_projects_config_and_rules_run(project):
    (project / "wfgy.yaml").write_text((project / "wfgy.yaml").read_text().replace("policies: [./team.yaml]", "policies: [builtin, ./team.yaml]"))
    (project / "prompts").mkdir()
    (project / "prompts" / "a.txt").write_text("Hi {{ name }}\n")
    (project / "wfgy.yaml").write_text((project / "wfgy.yaml").read_text() + "  prompts: {paths: [prompts/*]}\n")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    sub = project / "services" / "bot"
    sub.mkdir(parents=True)
    done = run_cli("eval", "--verbose", "--only", "prompt.undeclared-placeholder", "--only", "team.*", cwd=sub)
    assert done.returncode == 1
    assert done.stderr == "wfgy-rules: config ../../wfgy.yaml\n"
    assert "• ../../prompts/a.txt:1:7: name (jinja2) has no default" in done.stdout
    assert "✔ max length fits context .. OK" in done.stdout


def test_without_a_config_a_gate_judges_nothing_unless_defaults_are_asked_for(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "wgfy.yaml").write_text("ignore_versions: [minor]\n")
    refusal = ("error: no wfgy.yaml found here or above; run `wfgy-rules init`, or pass --defaults to judge the built-in packs "
               "with default settings; wgfy.yaml is not read: rename to wfgy.yaml\n")
    for args in (["eval"], ["eval", "--stage", "ci", "--format", "json"], ["preflight", "--", "touch", "started"]):
        done = run_cli(*args, cwd=tmp_path)
        assert (done.returncode, done.stdout, done.stderr) == (2, "", refusal), args
    assert not (tmp_path / "started").exists()
    done = run_cli("eval", "--defaults", "--stage", "ci", "--only", "prompt.*", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["outcome"] == "pass"
    assert done.stderr == ("wfgy-rules: no wfgy.yaml in . or above (up to the repository root); only the built-in packs run, "
                           "with default settings; wgfy.yaml is not read: rename to wfgy.yaml\n")
    assert run_cli("preflight", "--defaults", "--only", "boot.*", "--", "touch", "started", cwd=tmp_path).returncode == 0
    assert (tmp_path / "started").exists()
    (tmp_path / "mine.yaml").write_text(MINE)
    done = run_cli("eval", "--verbose", "--policy", "mine.yaml", cwd=tmp_path)  # --policy names what to judge
    assert done.returncode == 0 and "✔ PATH is set" in done.stdout


def test_defaults_reads_no_config_and_says_which_it_did_not_read(project):
    sub = project / "sub"
    sub.mkdir()
    done = run_cli("eval", "--defaults", "--stage", "ci", "--only", "prompt.*", cwd=sub)
    assert done.returncode == 0 and "max length" not in done.stdout
    assert done.stderr == "wfgy-rules: --defaults: ../wfgy.yaml is not read; the built-in packs run, with default settings\n"
    done = run_cli("eval", "--defaults", "--config", "wfgy.yaml", cwd=project)
    assert (done.returncode, done.stderr) == (2, "error: --defaults reads no config: drop --config wfgy.yaml or --defaults\n")
    shown = " ".join(run_cli("eval", "--help").stdout.split())
    assert "--defaults Read no wfgy.yaml: judge the built-in packs (or --policy) with default settings." in shown


def test_a_run_where_every_rule_skipped_judged_nothing(project):
    (project / "team.yaml").write_text(TEAM_POLICY.replace("    facts: [file]\n", "    facts: [file]\n    when: file.serving.enabled\n"))
    judged_nothing = ("error: nothing was judged: all 1 rule(s) of this run skipped, so it is not a pass "
                      "(see why each skipped; check --stage, --only/--skip and the providers in wfgy.yaml)\n")
    done = run_cli("eval", cwd=project)
    assert done.returncode == 2 and done.stderr == judged_nothing
    assert done.stdout == "- 1 rule skipped: file.serving not enabled (team.max-len)\n0 passed, 0 failed, 1 skipped\n"  # the report says why
    done = run_cli("preflight", "--force", "--", "touch", "started", cwd=project)
    assert done.returncode == 2 and done.stderr.endswith(judged_nothing) and not (project / "started").exists()
    (project / "serving.yaml").write_text("max_model_len: 2048\nenabled: true\n")
    assert run_cli("eval", cwd=project).returncode == 0


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
