"""What a newcomer meets first, through the real CLI: a misspelt name points at the right one
(a provider in the config, an overridden rule id, a policy test's keys), ``validate`` leaves a
Kubernetes manifest of several documents alone, ``explain`` shows only the params a rule
reads, and ``init`` ends with the step that passes on a laptop: ``eval --stage ci``."""

from __future__ import annotations

import shutil

from tests.helpers import REPO, dedent, run_cli

EXAMPLE = REPO / "policies.example"


def test_a_misspelt_provider_in_the_config_names_the_real_one(project):
    (project / "wfgy.yaml").write_text((project / "wfgy.yaml").read_text() + "  modelcard: {path: model-card.json}\n")
    line = "wfgy.yaml:6:3: providers.modelcard: unknown provider 'modelcard' (did you mean 'model_card'?); installed: env, file, "
    for command in ("validate", "eval"):
        done = run_cli(command, "--config", "wfgy.yaml", cwd=project)
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        assert done.stderr.startswith(line) and len(done.stderr.splitlines()) == 1, done.stderr


def test_an_override_of_a_misspelt_rule_id_names_the_loaded_one(project):
    config = (project / "wfgy.yaml").read_text().replace("policies: [./team.yaml]", "policies: [builtin, ./team.yaml]")
    (project / "wfgy.yaml").write_text(config + "rules:\n  semvers.torch-versions: {severity: low}\n")
    line = "wfgy.yaml:7:3: rules.semvers.torch-versions: override for unknown rule 'semvers.torch-versions' (did you mean 'semvers.torch-version'?)"
    for command in ("validate", "eval"):
        done = run_cli(command, "--config", "wfgy.yaml", cwd=project)
        assert done.returncode == 2 and line in done.stderr.splitlines(), done.stderr


POLICY_TEST = """\
apiVersion: wfgy-rules/v1
kind: PolicyTest
policies: [team.yaml]
cases:
  - name: a long context fails
    facts: {file: {serving: {max_model_len: 8192}}}
    expect:
      EXPECTATION
"""


def test_policy_test_keys_name_the_closest_rule_and_field(project):
    test_file = project / "team.test.yaml"
    test_file.write_text(POLICY_TEST.replace("EXPECTATION", "team.max-length: fail"))
    done = run_cli("test", "team.test.yaml", cwd=project)
    assert done.returncode == 1
    assert "    team.max-length: no such rule in the policies under test (did you mean 'team.max-len'?)" in done.stdout.splitlines()
    test_file.write_text(POLICY_TEST.replace("EXPECTATION", "team.max-len: {status: failed, cont: 1}"))
    for args in (["test", "team.test.yaml"], ["validate", "team.test.yaml"]):
        done = run_cli(*args, cwd=project)
        assert done.returncode == 2 and done.stderr.splitlines() == [
            "team.test.yaml:8:30: cases[0].expect.team.max-len.status: \"failed\" (string) is not one of: pass, fail, skip, error, waived (did you mean 'fail'?)",
            "team.test.yaml:8:38: cases[0].expect.team.max-len.cont: unknown key 'cont' (did you mean 'count'?)",
        ], done.stderr
    test_file.write_text(POLICY_TEST.replace("EXPECTATION", "team.max-len: {status: fail, count: 1}"))
    assert run_cli("test", "team.test.yaml", cwd=project).returncode == 0


def test_validate_leaves_a_manifest_of_several_documents_alone_but_not_a_policy_among_them(project):
    manifests = project / "deploy"
    manifests.mkdir()
    (manifests / "server.yaml").write_text(dedent("""
        # the model server: a Service and its Deployment
        apiVersion: v1
        kind: Service
        metadata: {name: llm}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: llm}
    """))
    done = run_cli("validate", "deploy/server.yaml", cwd=project)
    assert (done.returncode, done.stderr.splitlines()) == (2, [
        "deploy/server.yaml:2:1: unknown file: expected kind Policy, Config, PolicyTest or PromptVars, or a model-card JSON"])
    for args in (["--ignore-unknown", "deploy/server.yaml", "team.yaml"], ["."]):
        done = run_cli("validate", *args, cwd=project)
        assert done.returncode == 0 and "more than one YAML document" not in done.stderr, done.stderr
    (manifests / "bundle.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n" + (project / "team.yaml").read_text())
    for args in (["deploy/bundle.yaml"], ["--ignore-unknown", "deploy/bundle.yaml"], ["deploy"]):
        done = run_cli("validate", *args, cwd=project)
        assert (done.returncode, done.stderr.splitlines()) == (2, [
            "deploy/bundle.yaml:5:1: more than one YAML document (---): a wfgy-rules Policy must be the only document in its file"]), args


def test_explain_shows_only_the_params_the_rule_reads(project):
    (project / "team.yaml").write_text(dedent("""
        apiVersion: wfgy-rules/v1
        kind: Policy
        metadata: {name: team}
        rules:
          - id: team.max-len
            title: max length fits
            severity: high
            facts: [file]
            params: {context: 4096, limits: [1, 2], unused: x}
            assert: "file.serving.max_model_len <= params.context"
            message: "over {{ params.limits[0] }}"
          - id: team.torch
            title: torch as pinned
            severity: high
            facts: [file]
            assert: {key: file.serving.torch, op: version_compatible, value: "2.3.1"}
          - id: team.all-params
            title: reads them whole
            severity: low
            facts: [file]
            params: {a: 1}
            assert: "length(keys(params)) > `0`"
          - id: team.none
            title: reads none
            severity: low
            facts: [file]
            params: {b: 1}
            assert: "file.serving.items[?params.b == `1`] == `[]`"
    """))
    (project / "wfgy.yaml").write_text((project / "wfgy.yaml").read_text() + "ignore_versions: [minor]\nrules:\n  team.max-len: {params: {context: 8192}}\n")
    shown = {}
    for rule_id in ("team.max-len", "team.torch", "team.all-params", "team.none"):
        done = run_cli("explain", rule_id, cwd=project)
        assert done.returncode == 0, done.stderr
        shown[rule_id] = next(line for line in done.stdout.splitlines() if line.startswith("  params:"))
    assert shown == {
        "team.max-len": '  params:    {"context": 8192, "limits": [1, 2]}',
        "team.torch": '  params:    {"ignore_versions": ["minor"]}',
        "team.all-params": '  params:    {"a": 1, "ignore_versions": ["minor"]}',
        "team.none": "  params:    none read",  # inside a filter, params.b is each item's field
    }


def test_init_suggests_the_step_that_passes_without_production_secrets(tmp_path):
    service = tmp_path / "service"
    shutil.copytree(EXAMPLE / "model", service / "model")
    (service / ".env.example").write_text("HF_TOKEN=   # secret\n")
    done = run_cli("init", cwd=service)
    assert done.returncode == 0, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last == ("next: wfgy-rules lock --model ORG/NAME (writes model-card.json from what is installed here), "
                    "then wfgy-rules eval --stage ci (the checks CI runs: no production secrets or GPU needed)")
    for step in last.removeprefix("next: ").split(", then "):
        words = step.split(" (")[0].replace("ORG/NAME", "acme/support-7b").split()
        assert words[0] == "wfgy-rules"
        done = run_cli(*words[1:], cwd=service)
        assert done.returncode == 0, (step, done.stdout + done.stderr)
    assert run_cli("eval", cwd=service).returncode == 1  # every stage: HF_TOKEN is a production secret
    carded = tmp_path / "carded"  # a project with its model card already: eval is the next step
    carded.mkdir()
    shutil.copy(EXAMPLE / "model-card.json", carded / "model-card.json")
    done = run_cli("init", cwd=carded)
    assert done.returncode == 0 and done.stderr.splitlines()[-1] == "next: wfgy-rules eval --stage ci (the checks CI runs: no production secrets or GPU needed)"
