"""The GitHub Action (``action.yml``) and the example workflow: valid for GitHub; the install
step installs the tool from the action's own files (any ref, no release needed); the eval
step keeps the tool's exit code while still writing the SARIF report; the README's snippet
runs as pasted."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO, cli_command, example_repository, run_cli
from tests.integration.readme_install import copy_package, install_snippets
from wfgy_rules import __version__

ACTION = REPO / "action.yml"
WORKFLOW = REPO / "policies.example" / ".github" / "workflows" / "wfgy-rules.yml"


@pytest.mark.parametrize("path,schema", [(ACTION, "vendor.github-actions"), (WORKFLOW, "vendor.github-workflows")])
def test_valid_for_github(path, schema):
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema, in the test extra)")
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def _steps() -> dict[str, dict]:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    return {step["name"]: step for step in action["runs"]["steps"]}


def test_sarif_is_uploaded_whenever_the_report_was_written():
    upload = _steps()["Upload SARIF to code scanning"]
    assert upload["uses"] == "github/codeql-action/upload-sarif@v3"
    assert upload["if"].startswith("always() && inputs.sarif-file != ''")
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"


def _run_step(name: str, project: Path, inputs: dict[str, str], python_bin: Path, timeout: float = 60, **env_more: str) -> subprocess.CompletedProcess:
    """The action's step ``name``, run the way the runner runs a bash step: its ``env`` with
    the inputs substituted (an input left out takes its default, as on GitHub), the Python
    that ``actions/setup-python`` put first on PATH (``python_bin``), ``GITHUB_OUTPUT``."""
    step = _steps()[name]
    defaults = {name: spec.get("default", "") for name, spec in yaml.safe_load(ACTION.read_text(encoding="utf-8"))["inputs"].items()}
    assert set(inputs) <= set(defaults), f"not inputs of the action: {set(inputs) - set(defaults)}"
    given = {**defaults, **inputs}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WFGY_", "VIRTUAL_ENV"))}
    for key, value in step.get("env", {}).items():
        env[key] = re.sub(r"\$\{\{ inputs\.([a-z-]+) \}\}", lambda m: str(given[m.group(1)]), value)
    env.update(GITHUB_OUTPUT=str(project / "github_output"), NO_COLOR="1", PATH=f"{python_bin}{os.pathsep}{env.get('PATH', '')}", **env_more)
    script = project / "step.sh"
    script.write_text(step["run"])
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=project, env=env, capture_output=True, text=True, timeout=timeout)


def _run_eval_step(project: Path, inputs: dict[str, str], python_bin: Path | None = None) -> tuple[int, str, str]:
    """The action's eval step; (exit code, outputs, stdout)."""
    (project / "github_output").write_text("")
    done = _run_step("Evaluate policies", project, inputs, python_bin or Path(cli_command()[0]).parent)
    return done.returncode, (project / "github_output").read_text(), done.stdout


@pytest.mark.skipif(not Path(cli_command()[0]).name == "wfgy-rules", reason="the wfgy-rules script is not installed next to this Python")
def test_eval_step_keeps_the_exit_code_and_writes_sarif(tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "team.yaml").write_text(
        "apiVersion: wfgy-rules/v1\nkind: Policy\nmetadata: {name: team}\nrules:\n"
        "  - {id: team.replicas, title: two replicas, severity: medium, facts: [file], assert: 'file.serving.replicas >= `2`'}\n"
    )
    (tmp_path / "wfgy.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Config\nproviders:\n  file: {files: {serving: serving.yaml}}\n")
    (tmp_path / "serving.yaml").write_text("replicas: 1\n")
    inputs = {"config": "wfgy.yaml", "policies": "policies\n", "format": "github", "fail-on": "", "sarif-file": "out.sarif"}
    code, outputs, stdout = _run_eval_step(tmp_path, inputs)
    assert (code, outputs) == (1, "exit-code=1\n")
    assert stdout.startswith("::error file=serving.yaml,line=1,")  # at the key it judged
    assert json.loads((tmp_path / "out.sarif").read_text())["runs"][0]["results"][0]["ruleId"] == "team.replicas"
    code, outputs, _ = _run_eval_step(tmp_path, {**inputs, "fail-on": "critical"})
    assert (code, outputs) == (0, "exit-code=0\n")
    code, outputs, _ = _run_eval_step(tmp_path, {**inputs, "fail-on": "urgent"})
    assert (code, outputs) == (2, "exit-code=2\n")


def test_the_inputs_reach_eval_and_the_default_stage_is_ci():
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert {name: action["inputs"][name]["default"] for name in ("stage", "only", "skip", "args")} == {"stage": "ci", "only": "", "skip": "", "args": ""}
    run = _steps()["Evaluate policies"]["run"]
    for option in ("--stage", "--only", "--skip"):
        assert f'args+=({option} ' in run


def _workflow_inputs() -> dict[str, str]:
    """The inputs the shipped workflow gives the action."""
    steps = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["preflight"]["steps"]
    return next(step["with"] for step in steps if step.get("uses", "").startswith("wfgy-rules/wfgy-rules@"))


@pytest.mark.skipif(not Path(cli_command()[0]).name == "wfgy-rules", reason="the wfgy-rules script is not installed next to this Python")
def test_the_shipped_workflow_passes_on_a_ci_runner_and_fails_on_a_stray_prompt_variable(tmp_path):
    """End to end: a repository holding the example (no secrets, no GPU) passes the workflow's
    action step with `--stage ci`; a stray variable planted in a prompt fails it, annotated."""
    project = example_repository(tmp_path / "repo")
    inputs = _workflow_inputs()
    assert inputs["stage"] == "ci"
    code, outputs, stdout = _run_eval_step(project, inputs)
    assert (code, outputs) == (0, "exit-code=0\n"), stdout
    assert json.loads((project / inputs["sarif-file"]).read_text())["runs"][0]["results"] == []
    everything = run_cli("eval", "--format", "json", cwd=project)  # without --stage ci: the deploy guards too
    assert everything.returncode == 1
    assert [r["rule_id"] for r in json.loads(everything.stdout)["results"] if r["blocking"]] == ["boot.secrets-present"]
    prompt = project / "prompts" / "refund.txt"
    prompt.write_text(prompt.read_text() + "Your coupon: {{ coupon_code }}\n")
    code, outputs, stdout = _run_eval_step(project, inputs)
    assert (code, outputs) == (1, "exit-code=1\n")
    assert "::error file=prompts/refund.txt,line=3,col=" in stdout and "coupon_code (jinja2) has no default" in stdout


def _readme_step() -> dict:
    """The README's Action snippet: its wfgy-rules step."""
    (snippet,) = [s for s in install_snippets("yaml") if "uses: wfgy-rules/wfgy-rules@" in s]
    return next(step for step in yaml.safe_load(snippet)["steps"] if step["uses"].startswith("wfgy-rules/wfgy-rules@"))


def test_the_readme_and_the_workflow_name_the_same_ref_and_only_inputs_the_action_has():
    inputs = yaml.safe_load(ACTION.read_text(encoding="utf-8"))["inputs"]
    step = _readme_step()
    assert set(step["with"]) <= set(inputs) and set(_workflow_inputs()) <= set(inputs)
    steps = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["preflight"]["steps"]
    assert [s["uses"] for s in steps if s.get("uses", "").startswith("wfgy-rules/")] == [step["uses"]]
    assert f"#   - uses: {step['uses']}" in ACTION.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_install_step_installs_from_the_actions_own_files_and_the_readme_snippet_passes(tmp_path):
    """On a runner: the Python of ``actions/setup-python`` first on PATH (a fresh virtual
    environment here, nothing installed), ``GITHUB_ACTION_PATH`` the files GitHub fetched for
    the ref in ``uses:`` (no ``.git``, no release on PyPI). Then the README's snippet judges a
    repository holding the example with the tool that step installed. About 30 s."""
    action_files = copy_package(tmp_path / "action")
    python = tmp_path / "python"
    subprocess.run([sys.executable, "-m", "venv", str(python)], check=True, capture_output=True, timeout=120)
    bin_dir = python / ("Scripts" if os.name == "nt" else "bin")
    (tmp_path / "github_output").write_text("")
    done = _run_step("Install wfgy-rules", tmp_path, {}, bin_dir, timeout=600, GITHUB_ACTION_PATH=str(action_files))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == f"wfgy-rules {__version__}\n"  # a wheel built from the files: the version alone
    assert (bin_dir / "wfgy-rules").is_file()
    project = example_repository(tmp_path / "repo")
    code, outputs, stdout = _run_eval_step(project, _readme_step()["with"], python_bin=bin_dir)
    assert (code, outputs) == (0, "exit-code=0\n"), stdout
    prompt = project / "prompts" / "refund.txt"
    prompt.write_text(prompt.read_text() + "Your coupon: {{ coupon_code }}\n")
    code, outputs, stdout = _run_eval_step(project, _readme_step()["with"], python_bin=bin_dir)
    assert (code, outputs) == (1, "exit-code=1\n") and "coupon_code (jinja2) has no default" in stdout
