"""One config for CI and the pod, through the CLI: ``extends:`` a base (merged, paths relative
to each file, problems placed in the file that wrote them) and ``${VAR}`` in path settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import TEAM_POLICY, run_cli

BASE = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: [team.yaml]
rules:
  team.max-len: {severity: critical}
providers:
  file: {files: {serving: "${SERVING_FILE:-serving.yaml}"}}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with a base config, a CI config (``wfgy.yaml``) and a pod config
    (``deploy/wfgy.pod.yaml``), each extending the base; ``serving.yaml`` beside the base
    and another in ``deploy/`` that only a wrongly resolved path would read."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "deploy").mkdir()
    (tmp_path / "src" / "app").mkdir(parents=True)
    (tmp_path / "team.yaml").write_text(TEAM_POLICY)
    (tmp_path / "wfgy.base.yaml").write_text(BASE)
    (tmp_path / "serving.yaml").write_text("max_model_len: 8192\n")
    (tmp_path / "deploy" / "serving.yaml").write_text("max_model_len: 2048\n")
    (tmp_path / "wfgy.yaml").write_text("extends: wfgy.base.yaml\n")
    (tmp_path / "deploy" / "wfgy.pod.yaml").write_text("extends: ../wfgy.base.yaml\nrules:\n  team.max-len: {params: {context: 6000}}\n")
    return tmp_path


def test_ci_and_pod_files_share_the_base_and_its_paths_stay_relative_to_it(repo):
    done = run_cli("eval", cwd=repo / "src" / "app")  # CI, from a subdirectory
    assert done.returncode == 1 and "max_model_len 8192 > context 4096" in done.stdout, done.stdout + done.stderr
    assert done.stderr.startswith("wfgy-rules: config ../../wfgy.yaml\n")
    pod = run_cli("eval", "-c", "deploy/wfgy.pod.yaml", cwd=repo)  # serving.yaml is the base's, not deploy/'s
    assert pod.returncode == 1 and "max_model_len 8192 > context 6000" in pod.stdout, pod.stdout + pod.stderr
    moved = run_cli("eval", "-c", "deploy/wfgy.pod.yaml", cwd=repo, env={"SERVING_FILE": "deploy/serving.yaml"})
    assert moved.returncode == 0, moved.stdout + moved.stderr  # a ${VAR} is relative to the file that writes it


def test_mappings_merge_key_by_key_and_lists_are_replaced(repo):
    (repo / "other.yaml").write_text(TEAM_POLICY.replace("name: team", "name: other").replace("team.max-len", "other.max-len"))
    (repo / "wfgy.base.yaml").write_text(BASE.replace("[team.yaml]", "[team.yaml, other.yaml]"))
    listed = run_cli("list", "--format", "json", "-c", "deploy/wfgy.pod.yaml", cwd=repo)
    assert [(r["id"], r["severity"]) for r in json.loads(listed.stdout)["rules"]] == [("team.max-len", "critical"), ("other.max-len", "high")]
    (repo / "deploy" / "wfgy.pod.yaml").write_text("extends: ../wfgy.base.yaml\npolicies: [../other.yaml]\nrules:\n  other.max-len: {params: {context: 6000}}\n")
    listed = run_cli("list", "--format", "json", "-c", "deploy/wfgy.pod.yaml", cwd=repo)  # team.yaml is no longer loaded
    assert (listed.returncode, listed.stderr) == (2, "wfgy.base.yaml:5:3: rules.team.max-len: override for unknown rule 'team.max-len' (did you mean 'other.max-len'?)\n")
    (repo / "deploy" / "wfgy.pod.yaml").write_text("extends: ../wfgy.base.yaml\nrules:\n  team.max-len: {params: {context: 6000}}\n")
    (repo / "wfgy.base.yaml").write_text(BASE.replace("{severity: critical}", "{severity: critical, params: {ignore_versions: [major]}}"))
    query = run_cli("query", "[params.context, params.ignore_versions]", "--rule", "team.max-len", "-c", "deploy/wfgy.pod.yaml", cwd=repo)
    assert json.loads(query.stdout) == [6000, ["major"]], query.stderr  # rules.<id>.params merged key by key


def test_a_problem_in_the_base_is_reported_at_the_base(repo):
    (repo / "wfgy.base.yaml").write_text(BASE.replace("policies: [team.yaml]", "policies: [team.yaml]\nfail_on: hgh"))
    (repo / "wfgy.yaml").write_text("extends: wfgy.base.yaml\nrules:\n  team.max-len: {enabeld: false}\n")
    done = run_cli("validate", "-c", "wfgy.yaml", cwd=repo)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [  # the file that was read first, then its base
        "wfgy.yaml:3:18: rules.team.max-len.enabeld: unknown key 'enabeld' (did you mean 'enabled'?)",
        "wfgy.base.yaml:4:10: fail_on: \"hgh\" (string) is not one of: info, low, medium, high, critical (did you mean 'high'?)",
    ]
    base = run_cli("eval", "-c", "../deploy/wfgy.pod.yaml", cwd=repo / "src")  # shown from where it runs
    assert base.returncode == 2 and base.stderr.startswith("../wfgy.base.yaml:4:10: fail_on: ")


@pytest.mark.parametrize(("config", "extra", "line"), [
    ("extends: ../wfgy.yaml\n", {}, "wfgy.yaml:1:10: extends: deploy/wfgy.pod.yaml: a cycle: deploy/wfgy.pod.yaml → wfgy.yaml → deploy/wfgy.pod.yaml"),
    ("extends: ../wfgy.bsae.yaml\n", {}, "deploy/wfgy.pod.yaml:1:10: extends: ../wfgy.bsae.yaml: no such file (relative to deploy/wfgy.pod.yaml)"),
    ("extends: [../wfgy.base.yaml]\n", {}, "deploy/wfgy.pod.yaml:1:10: extends: expected the path of a base config, got an array"),
    ("extends: b1.yaml\n", {f"b{i}.yaml": f"extends: b{i + 1}.yaml\n" for i in range(1, 10)},
     "deploy/b8.yaml:1:10: extends: b9.yaml: more than 8 bases deep: deploy/wfgy.pod.yaml → " + " → ".join(f"deploy/b{i}.yaml" for i in range(1, 10))),
])
def test_a_chain_that_cannot_be_followed_is_one_error_at_its_extends_line(repo, config, extra, line):
    (repo / "wfgy.yaml").write_text("extends: deploy/wfgy.pod.yaml\n")
    (repo / "deploy" / "wfgy.pod.yaml").write_text(config)
    for name, text in extra.items():
        (repo / "deploy" / name).write_text(text)
    done = run_cli("eval", "-c", "deploy/wfgy.pod.yaml", cwd=repo)
    assert (done.returncode, done.stderr, done.stdout) == (2, line + "\n", "")


def test_a_variable_expands_only_in_path_settings_and_never_shows_its_value(repo):
    (repo / "a$b.yaml").write_text("max_model_len: 1024\n")
    (repo / "deploy" / "wfgy.pod.yaml").write_text(
        "extends: ../wfgy.base.yaml\n"
        "providers:\n  file: {files: {serving: ../a$$b.yaml}}\n"
        "waivers:\n  - {rule: team.max-len, reason: '${HOME} stays as written', expires: 2999-01-01}\n")
    done = run_cli("list", "-c", "deploy/wfgy.pod.yaml", cwd=repo)
    assert "team.max-len  active  expires 2999-01-01: ${HOME} stays as written" in done.stdout, done.stderr
    assert run_cli("eval", "-c", "deploy/wfgy.pod.yaml", cwd=repo).returncode == 0  # a$b.yaml was read: 1024 fits
    (repo / "deploy" / "wfgy.pod.yaml").write_text(
        "extends: ../wfgy.base.yaml\n"
        "providers:\n  file: {files: {serving: '${MODEL_DIR}/serving.yaml', card: '${HF_TOKEN}', notes: $NOTES}}\n")
    done = run_cli("validate", "-c", "deploy/wfgy.pod.yaml", cwd=repo, env={"HF_TOKEN": "hf_abcdefghijklmnopqrstuvwxyz0123"})
    assert done.returncode == 2 and "hf_abcdefghij" not in done.stderr + done.stdout
    assert done.stderr.splitlines() == [
        "deploy/wfgy.pod.yaml:3:27: providers.file.files.serving: ${MODEL_DIR} is not set and has no default (write ${MODEL_DIR:-DEFAULT})",
        "deploy/wfgy.pod.yaml:3:62: providers.file.files.card: ${HF_TOKEN}: HF_TOKEN is, or may hold, a secret; a secret never goes into a path",
        "deploy/wfgy.pod.yaml:3:84: providers.file.files.notes: $NOTES: write ${NOTES} (only the braced form is expanded), or $$ for a literal $",
    ]


def test_only_a_config_file_extends(repo):
    (repo / "team.test.yaml").write_text(
        "apiVersion: wfgy-rules/v1\nkind: PolicyTest\npolicies: [team.yaml]\nconfig: {extends: wfgy.base.yaml}\n"
        "cases:\n  - name: fits\n    facts: {file: {serving: {max_model_len: 1}}}\n    expect: {team.max-len: pass}\n")
    done = run_cli("test", "team.test.yaml", cwd=repo)
    assert (done.returncode, done.stderr) == (2, "team.test.yaml:4:19: extends: only a config file (wfgy.yaml, --config) can extend a base\n")


def test_test_finds_the_config_from_a_subdirectory(repo):
    (repo / "team.test.yaml").write_text(
        "apiVersion: wfgy-rules/v1\nkind: PolicyTest\npolicies: [team.yaml]\n"
        "cases:\n  - name: fits\n    facts: {file: {serving: {max_model_len: 1}}}\n    expect: {team.max-len: pass}\n")
    done = run_cli("test", cwd=repo / "src" / "app")
    assert (done.returncode, done.stdout, done.stderr) == (0, "✔ ../../team.test.yaml :: fits\n1 passed, 0 failed\n", "wfgy-rules: config ../../wfgy.yaml\n")
    (repo / "deploy" / "team.test.yaml").write_text((repo / "team.test.yaml").read_text().replace("[team.yaml]", "[../team.yaml]"))
    done = run_cli("test", "-c", "../../deploy/wfgy.pod.yaml", cwd=repo / "src" / "app")
    assert (done.returncode, done.stdout) == (0, "✔ ../../deploy/team.test.yaml :: fits\n1 passed, 0 failed\n")


def test_init_under_an_existing_config_says_so_and_writes_nothing_unless_nested(repo):
    app = repo / "src" / "app"
    done = run_cli("init", cwd=app)
    assert done.returncode == 2 and list(app.iterdir()) == []
    assert done.stderr == ("../../wfgy.yaml: already applies in this directory; wfgy-rules init writes nothing "
                           "(--nested writes a project here, which commands run here then read instead)\n")
    assert run_cli("init", "--nested", cwd=app).returncode == 0
    assert (app / "wfgy.yaml").is_file() and run_cli("test", cwd=app).stdout.endswith("3 passed, 0 failed\n")


def test_the_readme_example_is_a_working_base_ci_and_pod_config(tmp_path, monkeypatch):
    monkeypatch.delenv("MODEL_DIR", raising=False)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### One config for CI and the pod", 1)[1].split("\n## ", 1)[0]
    for block in section.split("```yaml\n")[1:]:
        text = block.split("```", 1)[0]
        name = text.split(":", 1)[0].removeprefix("# ")
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / ".git").mkdir()
    (tmp_path / "policies").mkdir()
    assert sorted(p.name for p in tmp_path.rglob("*.yaml")) == ["wfgy.base.yaml", "wfgy.pod.yaml", "wfgy.yaml"]
    assert run_cli("validate", cwd=tmp_path).returncode == 0
    assert run_cli("validate", "-c", "deploy/wfgy.pod.yaml", cwd=tmp_path, env={"MODEL_DIR": "/models/current"}).returncode == 0
    base = tmp_path / "wfgy.base.yaml"
    base.write_text(base.read_text().replace("fail_on: medium", "fail_on: meduim"))
    console = section.split("```console\n", 1)[1].split("```", 1)[0]
    command, *expected = [line.strip() for line in console.strip().splitlines()]
    done = run_cli(*command.split()[2:], cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.splitlines() == expected
