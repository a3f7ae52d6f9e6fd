"""``query``, ``init`` and shell completion through the real CLI."""

from __future__ import annotations

import json
import shutil

from tests.helpers import REPO, run_cli

EXAMPLE = REPO / "policies.example"


def test_query_prints_json_over_gathered_facts_and_bundles(tmp_path):
    example = tmp_path / "example"
    shutil.copytree(EXAMPLE, example)
    done = run_cli("query", "model_card.declared.tokenizer_sha", cwd=example)
    assert (done.returncode, done.stdout) == (0, json.dumps(json.loads((example / "model-card.json").read_text())["tokenizer_sha"]) + "\n")
    done = run_cli("query", "starts_with(runtime.model_dir.tokenizer.sha256, model_card.declared.tokenizer_sha)", cwd=example)
    assert (done.returncode, done.stdout) == (0, "false\n")
    bundle = tmp_path / "facts.json"
    bundle.write_text(json.dumps({"runtime": {"packages": {"torch": "2.4.1"}}, "model_card": {"declared": {"torch": "2.3.1"}}}))
    done = run_cli("query", "version_drift(runtime.packages.torch, model_card.declared.torch)", "--facts", str(bundle), cwd=example)
    assert (done.returncode, done.stdout) == (0, '"minor"\n')
    done = run_cli("query", "{p: params.ignore_versions, torch: runtime.packages.torch}", "--facts", str(bundle), "--rule", "semvers.torch-version", cwd=example)
    assert json.loads(done.stdout) == {"p": ["patch"], "torch": "2.4.1"}


def test_query_rule_params_include_config_overrides(project):
    assert json.loads(run_cli("query", "params", "--rule", "team.max-len", cwd=project).stdout) == {"context": 4096, "ignore_versions": []}
    (project / "wfgy.yaml").write_text((project / "wfgy.yaml").read_text() + "rules:\n  team.max-len: {params: {context: 8192}}\n")
    assert json.loads(run_cli("query", "params.context", "--rule", "team.max-len", cwd=project).stdout) == 8192
    assert run_cli("query", "file.serving", cwd=project).stdout == '{\n  "max_model_len": 2048\n}\n'


def test_query_errors(project):
    for args, code, line in (
        (["modle_card.x"], 2, "error: 'modle_card.x' reads modle_card, which is not a provider (did you mean 'model_card'?)"),
        (["a["], 2, "error: invalid JMESPath 'a['"),
        (["params", "--rule", "team.maxlen"], 2, "error: unknown rule 'team.maxlen' (did you mean 'team.max-len'?)"),
        (["version_cmp(file.serving.max_model_len, 'x')"], 1, "error: \"x\" (string) is not a version"),
    ):
        done = run_cli("query", *args, cwd=project)
        assert done.returncode == code and done.stderr.startswith(line) and done.stdout == "", (args, done.stderr)


def test_a_path_that_is_not_a_fact_is_not_null(project):
    bundle = project / "facts.json"
    bundle.write_text(json.dumps({"runtime": {"python": "3.11.7", "packages": {"torch": None, "vllm": "0.11.0"}}}))
    for expression, line in (
        ("runtime.packges", "error: runtime.packges is not a fact (did you mean 'runtime.packages'?); runtime has: packages, python\n"),
        ("version_cmp(runtime.packages.vlm, '0.9')",
         "error: runtime.packages.vlm is not a fact (did you mean 'runtime.packages.vllm'?); runtime.packages has: torch, vllm\n"),
        ("params.context", "error: params.context is not a param (give --rule ID for a rule's params); params is empty\n"),
    ):
        done = run_cli("query", expression, "--facts", str(bundle), cwd=project)
        assert (done.returncode, done.stdout, done.stderr) == (2, "", line), expression
    done = run_cli("query", "runtime.packages.torch", "--facts", str(bundle), cwd=project)  # null in the facts: a fact
    assert (done.returncode, done.stdout) == (0, "null\n")
    done = run_cli("query", "runtime.packages.*", "--facts", str(bundle), cwd=project)
    assert (done.returncode, json.loads(done.stdout)) == (0, ["0.11.0"])  # a projection is not checked
    done = run_cli("query", "file.serving.max_len", cwd=project)  # gathered now, from a file of the project
    assert done.returncode == 2 and "did you mean 'file.serving.max_model_len'?" in done.stderr


def test_init_writes_a_project_that_validates_and_tests(tmp_path):
    for name in ("model", "prompts"):
        shutil.copytree(EXAMPLE / name, tmp_path / name)
    shutil.copy(EXAMPLE / ".env.example", tmp_path / ".env.example")
    done = run_cli("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = (tmp_path / "wfgy.yaml").read_text()
    assert "model_dir: ./model" in config and 'paths: ["prompts/**/*"]' in config and "env: {declared: .env.example}" in config
    assert "#   ticket_id: {required: true}      # prompts/support.jinja:4" in (tmp_path / "prompt_vars.yaml").read_text()
    assert run_cli("validate", cwd=tmp_path).returncode == 0
    tested = run_cli("test", "--require-tests", cwd=tmp_path)
    assert tested.returncode == 0 and tested.stdout.rstrip().endswith("3 passed, 0 failed")
    assert run_cli("eval", cwd=tmp_path).returncode in (0, 1)  # the gate itself runs on it


def test_a_secret_from_env_example_is_one_requirement_mounted_as_a_file(tmp_path):
    (tmp_path / ".env.example").write_text("BOT_API_KEY=   # secret\nBOT_DB_PASSWORD=  # secret\nBOT_LOG_LEVEL=info\n")
    assert run_cli("init", cwd=tmp_path).returncode == 0
    config = (tmp_path / "wfgy.yaml").read_text()
    assert "    required: [BOT_API_KEY, BOT_DB_PASSWORD]\n" in config and "      - {type: dir, path: /run/secrets}" in config
    (tmp_path / "wfgy.yaml").write_text(config.replace("/run/secrets", "./mounted"))  # where this test can mount them
    (tmp_path / "mounted").mkdir()
    for name in ("BOT_API_KEY", "BOT_DB_PASSWORD"):
        (tmp_path / "mounted" / name).write_text("s3cr3t\n")
    done = run_cli("eval", "--stage", "deploy", "--only", "boot.*", "--format", "json", cwd=tmp_path, env={"BOT_LOG_LEVEL": "debug"})
    statuses = {r["rule_id"]: r["status"] for r in json.loads(done.stdout)["results"]}
    assert statuses["boot.secrets-present"] == statuses["boot.env-required"] == "pass", done.stdout
    assert done.returncode == 0
    (tmp_path / "mounted" / "BOT_DB_PASSWORD").unlink()  # judged once, by the secrets rule
    done = run_cli("eval", "--stage", "deploy", "--only", "boot.*", "--format", "json", cwd=tmp_path, env={"BOT_LOG_LEVEL": "debug"})
    failed = [(r["rule_id"], r["message"]) for r in json.loads(done.stdout)["results"] if r["status"] != "pass"]
    assert failed == [("boot.secrets-present", "missing secrets: BOT_DB_PASSWORD (looked in env, dir:./mounted)")]


def test_init_in_an_empty_directory_and_never_overwrites(tmp_path):
    assert run_cli("init", cwd=tmp_path).returncode == 0
    assert "model_dir" not in (tmp_path / "wfgy.yaml").read_text().split("#")[0]
    assert run_cli("validate", cwd=tmp_path).returncode == 0 and run_cli("test", cwd=tmp_path).returncode == 0
    (tmp_path / "wfgy.yaml").write_text("mine\n")
    (tmp_path / "policies" / "team.yaml").unlink()
    done = run_cli("init", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.splitlines()[0].startswith("wfgy.yaml: already exists")
    assert (tmp_path / "wfgy.yaml").read_text() == "mine\n" and not (tmp_path / "policies" / "team.yaml").exists()


def test_shell_completion(tmp_path):
    assert "--show-completion" in run_cli("--help").stdout
    script = run_cli("--show-completion", env={"SHELL": "/bin/bash"})
    assert script.returncode == 0 and "_wfgy_rules_completion" in script.stdout
    done = run_cli(env={"_WFGY_RULES_COMPLETE": "complete_bash", "COMP_WORDS": "wfgy-rules qu", "COMP_CWORD": "1"})
    assert done.stdout.split() == ["query"]
    done = run_cli(env={"_WFGY_RULES_COMPLETE": "complete_bash", "COMP_WORDS": "wfgy-rules diff --for", "COMP_CWORD": "2"})
    assert done.stdout.split() == ["--format"]


