"""``wfgy-rules validate``: a config is valid only with everything it references (what
``eval`` would load), and ``--ignore-unknown`` lets the pre-commit hook pass every YAML file."""

from __future__ import annotations

from tests.helpers import TEAM_POLICY, run_cli

WAIVER = "waivers:\n  - {rule: team.max-lenn, reason: legacy, expires: 2099-01-31}\n"


def test_a_config_is_checked_with_its_policies_prompt_vars_and_waivers(project):
    (project / "team.yaml").write_text(TEAM_POLICY.replace("severity: high", "severity: urgent").replace("<= params.context", "<= params.[context"))
    (project / "vars.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: PromptVars\nvars: {name: {defualt: you}}\n")
    (project / "wfgy.yaml").write_text((project / "wfgy.yaml").read_text() + "  prompts: {vars: vars.yaml}\n" + WAIVER)
    bad_vars = "vars.yaml:3:15: vars.name.defualt: unknown key 'defualt' (did you mean 'default'?)"
    expected = [
        bad_vars,  # the config's documents first: eval stops there, before loading a policy
        "team.yaml:7:15: rules[0].severity: \"urgent\" (string) is not one of: info, low, medium, high, critical",
        "team.yaml:10:13: rules[0].assert: invalid JMESPath 'file.serving.max_model_len <= params.[context': Invalid jmespath expression: Incomplete expression: \"file.serving.max_model_len <= params.[context\" ^",
    ]
    for args in (["validate", "wfgy.yaml"], ["validate"]):
        done = run_cli(*args, cwd=project)
        assert (done.returncode, done.stderr.splitlines()) == (2, expected), args
    done = run_cli("eval", cwd=project)
    assert (done.returncode, done.stderr.splitlines()) == (2, [bad_vars])
    (project / "team.yaml").write_text(TEAM_POLICY)
    done = run_cli("validate", "wfgy.yaml", cwd=project)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        bad_vars,
        "wfgy.yaml:8:12: waivers[0].rule: waiver for 'team.max-lenn' matches no loaded rule (did you mean 'team.max-len'?)",
    ]
    (project / "vars.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: PromptVars\nvars: {name: {default: you}}\n")
    (project / "wfgy.yaml").write_text((project / "wfgy.yaml").read_text().replace("team.max-lenn", "team.max-len"))
    assert run_cli("validate", "wfgy.yaml", "team.yaml", cwd=project).stdout == "ok: 3 file(s) valid\n"


def test_a_config_without_a_header_is_recognised_by_its_name(tmp_path):
    (tmp_path / "wfgy.yaml").write_text('ignore_versions: ["minor"]\nsecret_timeout: 90s\ncuda_probe: {mode: warn}\n')
    done = run_cli("validate", "wfgy.yaml", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "ok: 7 file(s) valid\n")  # the config and the six built-in packs
    (tmp_path / "wfgy.yaml").write_text("cuda_probe: {mode: wran}\n")
    done = run_cli("validate", "wfgy.yaml", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("wfgy.yaml:1:20: cuda_probe.mode: \"wran\" (string) is not one of")


def test_ignore_unknown_leaves_other_yaml_alone_and_still_checks_ours(project):
    (project / "policies").mkdir()
    (project / "policies" / "serving-limits.yaml").write_text(TEAM_POLICY.replace("team", "limits").replace("severity: high", "severity: hi"))
    (project / "workflow.yml").write_text("on: push\njobs: {}\n")
    done = run_cli("validate", "--ignore-unknown", "workflow.yml", "policies/serving-limits.yaml", "team.yaml", cwd=project)
    assert done.returncode == 2
    assert done.stderr == "policies/serving-limits.yaml:7:15: rules[0].severity: \"hi\" (string) is not one of: info, low, medium, high, critical (did you mean 'high'?)\n"
    (project / "policies" / "serving-limits.yaml").unlink()
    done = run_cli("validate", "--ignore-unknown", "workflow.yml", "team.yaml", cwd=project)
    assert (done.returncode, done.stdout) == (0, "ok: 1 file(s) valid\n")
    assert run_cli("validate", "workflow.yml", cwd=project).returncode == 2  # named without the flag: must be ours
