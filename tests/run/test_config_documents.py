"""The model card and the prompt variables file are documents of the config: a misspelt key
or a wrong type stops every command with exit 2 and one ``FILE:LINE:COL`` line per problem,
before any provider gathers or any rule runs (never SKIPs, never ERROR results)."""

from __future__ import annotations

import json

import yaml
from pre_commit.commands.run import Classifier

from tests.helpers import REPO, TEAM_POLICY, run_cli

TYPOS = '{\n  "model": "acme/bot",\n  "tokenizer_sha256": "ad4c1b9",\n  "min_gpu_mem_gib": 24\n}\n'
TYPO_LINES = [
    "model-card.json:3:3: tokenizer_sha256: unknown key 'tokenizer_sha256' (did you mean 'tokenizer_sha'?)",
    "model-card.json:4:3: min_gpu_mem_gib: unknown key 'min_gpu_mem_gib' (did you mean 'min_gpu_memory_gib'?)",
]
BAD_VARS = "apiVersion: wfgy-rules/v1\nkind: PromptVars\nvars:\n  customer_name: {required: yes please}\n"
COMMANDS = (["validate"], ["validate", "wfgy.yaml"], ["eval", "--stage", "ci"], ["facts"], ["preflight", "--", "touch", "started"])


def with_builtin(project):
    """The team project judged by the built-in packs too (the card is theirs to compare)."""
    config = project / "wfgy.yaml"
    config.write_text(config.read_text().replace("policies: [./team.yaml]", "policies: [builtin, ./team.yaml]"))
    return project


def test_a_misspelt_card_key_stops_every_command_before_any_rule_runs(project):
    (with_builtin(project) / "model-card.json").write_text(TYPOS)
    for args in COMMANDS:
        done = run_cli(*args, cwd=project)
        assert (done.returncode, done.stdout, done.stderr.splitlines()) == (2, "", TYPO_LINES), args
    assert not (project / "started").exists()  # preflight never started the service


def test_a_wrong_type_is_one_line_not_an_error_per_rule(project):
    (with_builtin(project) / "model-card.json").write_text('{\n  "model": "acme/bot",\n  "requires_gpu": "yes"\n}\n')
    done = run_cli("eval", cwd=project)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == 'model-card.json:3:19: requires_gpu: expected boolean, got "yes" (string)\n'


def test_a_card_named_in_the_config_is_checked_where_it_lives(project):
    (project / "deploy").mkdir()
    (project / "deploy" / "card.json").write_text('{"model": "acme/bot", "vocab_size": "32000"}')
    config = project / "wfgy.yaml"
    config.write_text(config.read_text() + "  model_card: {path: deploy/card.json}\n")
    expected = 'deploy/card.json:1:37: vocab_size: expected integer, got "32000" (string)\n'
    for args in (["validate"], ["eval"]):
        done = run_cli(*args, cwd=project)
        assert (done.returncode, done.stderr) == (2, expected), args
    served = project / "deploy" / "svc"
    served.mkdir()
    done = run_cli("eval", "--config", "../../wfgy.yaml", cwd=served)  # outside the working directory: absolute
    assert (done.returncode, done.stderr) == (2, expected.replace("deploy/card.json", str((project / "deploy" / "card.json").resolve())))


def test_a_broken_prompt_vars_file_is_exit_2_not_prompt_rule_errors(project):
    (project / "prompt_vars.yaml").write_text(BAD_VARS)
    config = project / "wfgy.yaml"
    config.write_text(config.read_text().replace("policies: [./team.yaml]", "policies: [builtin:prompt-lint, ./team.yaml]")
                      + "  prompts: {vars: prompt_vars.yaml}\n")
    expected = ['prompt_vars.yaml:4:29: vars.customer_name.required: expected boolean, got "yes please" (string)']
    for args in COMMANDS:
        done = run_cli(*args, cwd=project)
        assert (done.returncode, done.stdout, done.stderr.splitlines()) == (2, "", expected), args


def test_a_team_keeps_its_own_keys_under_custom(project):
    card = {"model": "acme/bot", "context_length": 8192, "custom": {"owner": "ml-platform", "tiers": [1, 2]}}
    (with_builtin(project) / "model-card.json").write_text(json.dumps(card, indent=2))
    assert run_cli("validate", cwd=project).returncode == 0
    done = run_cli("query", "model_card.declared.custom.owner", cwd=project)
    assert (done.returncode, done.stdout.strip()) == (0, '"ml-platform"'), done.stderr


def test_validate_checks_the_policy_tests_beside_the_configs_policies(project):
    """``team.test.yaml`` beside ``team.yaml``, and the tests inside a policy directory."""
    (project / "team.test.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: PolicyTest\npolicies: [team.yaml]\ncases:\n"
                                            "  - name: short\n    facts: {file: {serving: {max_model_len: 1}}}\n    expect: {team.max-len: pas}\n")
    (project / "limits").mkdir()
    (project / "limits" / "limits.yaml").write_text(TEAM_POLICY.replace("team", "limits"))
    (project / "limits" / "cases.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: PolicyTest\npolicies: [limits.yaml]\ncasse: []\n")
    config = project / "wfgy.yaml"
    config.write_text(config.read_text().replace("policies: [./team.yaml]", "policies: [./team.yaml, ./limits]"))
    done = run_cli("validate", cwd=project)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "team.test.yaml:7:28: cases[0].expect.team.max-len: \"pas\" (string) is not one of: pass, fail, skip, error, waived (did you mean 'pass'?)",
        "limits/cases.yaml:1:1: missing required key 'cases'",
        "limits/cases.yaml:4:1: casse: unknown key 'casse' (did you mean 'cases'?)",
    ]
    assert run_cli("eval", cwd=project).returncode == 0  # eval does not read policy tests


def test_a_named_card_is_read_as_strict_json(project):
    (project / "model-card.json").write_text('{"model": "acme/bot",}')
    done = run_cli("validate", "model-card.json", cwd=project)
    assert (done.returncode, done.stderr) == (2, "model-card.json:1:22: invalid JSON: Expecting property name enclosed in double quotes\n")


def test_the_pre_commit_hook_passes_model_cards_and_validate_leaves_other_json_alone(project):
    hooks = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    hook = hooks["wfgy-rules-validate"]
    (project / "model-card.json").write_text(TYPOS)
    (project / "package.json").write_text('{"name": "site"}')
    touched = ["model-card.json", "package.json", "serving.yaml"]
    given = list(Classifier([str(project / n) for n in touched]).by_types(
        [str(project / n) for n in touched], hook.get("types", ["file"]), hook.get("types_or", []), hook.get("exclude_types", [])))
    assert [name.rsplit("/", 1)[1] for name in given] == touched  # as pre-commit selects files for the hook
    entry = hook["entry"].split()
    assert entry[0] == "wfgy-rules"
    done = run_cli(*entry[1:], *touched, cwd=project)
    assert (done.returncode, done.stderr.splitlines()) == (2, TYPO_LINES)
