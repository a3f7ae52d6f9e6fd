"""A tagged YAML scalar that its tag cannot read (``OPENAI_API_KEY: !!int sk-proj-…``) or a tag
that is not allowed is an error that names the tag and the position, never the text: in
every YAML file the tool reads (config, policy, prompt vars, Kubernetes manifests), and so
in no text, JSON or SARIF report. A tag the file chose itself (``!sk-proj-…``) is text too:
it is called "a custom YAML tag". ``!!bool`` on a non-boolean is exit 2 like the rest, not a
crash."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli
from tests.security.test_expose_refusals import MANIFEST  # a Deployment whose env SETTING is %s

SECRET = "sk-proj-CANARY0123456789"
TAGS = {  # the tag written before the secret -> the message that must appear instead
    "!!int": "value tagged !!int is not a valid int (value not shown)",
    "!!float": "value tagged !!float is not a valid float (value not shown)",
    "!!bool": "value tagged !!bool is not a valid bool (value not shown)",
    "!!binary": "YAML tag !!binary is not allowed",
    "!!python/object/apply:os.CANARY": "YAML tag !!python/… is not allowed",
    "!sk-proj-CANARY": "a custom YAML tag is not allowed",
}
CONFIG = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: [./team.yaml]
providers:
  kubernetes: {paths: [deploy.yaml]}
  prompts: {paths: ["prompts/*"], vars: prompt_vars.yaml}
"""
POLICY = """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: team}
rules:
  - id: team.manifests-read
    title: manifests parse
    severity: high
    facts: [kubernetes]
    assert: "length(kubernetes.errors) == `0`"
    message: "{{ kubernetes.errors }}"
  - id: team.prompt-vars
    title: prompt vars declared
    severity: high
    facts: [prompts]
    assert: "length(prompts.undeclared) == `0`"
"""
PROMPT_VARS = """\
apiVersion: wfgy-rules/v1
kind: PromptVars
vars:
  customer_name: {required: true}
  OPENAI_API_KEY: {default: %s}
"""


def project(root, prompt_default="friendly", env_value="info"):
    (root / "prompts").mkdir()
    (root / "prompts" / "hello.j2").write_text("Hello {{ customer_name }}\n")
    (root / "wfgy.yaml").write_text(CONFIG)
    (root / "team.yaml").write_text(POLICY)
    (root / "prompt_vars.yaml").write_text(PROMPT_VARS % prompt_default)
    (root / "deploy.yaml").write_text(MANIFEST % env_value)
    return root


def assert_hidden(done, *expected: str) -> None:
    out = done.stdout + done.stderr
    assert "CANARY" not in out and "canary" not in out, out
    assert "Traceback" not in out
    for text in expected:
        assert text in out, (text, out)


@pytest.mark.parametrize("tag", TAGS)
def test_the_config_and_the_policy_name_the_tag_never_the_value(tmp_path, tag):
    root = project(tmp_path)
    (root / "wfgy.yaml").write_text(CONFIG + f"  env: {{expose: {tag} {SECRET}}}\n")
    done = run_cli("eval", cwd=root)
    assert done.returncode == 2
    assert_hidden(done, "wfgy.yaml:7:", TAGS[tag])
    (root / "wfgy.yaml").write_text(CONFIG)
    (root / "team.yaml").write_text(POLICY + f"    params: {{OPENAI_API_KEY: {tag} {SECRET}}}\n")
    done = run_cli("eval", cwd=root)
    assert done.returncode == 2
    assert_hidden(done, "team.yaml:16:", TAGS[tag])


@pytest.mark.parametrize("tag", TAGS)
@pytest.mark.parametrize("where", ["prompt_vars.yaml:5:", "deploy.yaml:12:"])
def test_manifests_and_prompt_vars_name_the_tag_in_every_report(tmp_path, tag, where):
    tagged = f"{tag} {SECRET}"
    root = project(tmp_path, **({"prompt_default": tagged} if where.startswith("prompt") else {"env_value": tagged}))
    for fmt in ("text", "json", "sarif"):
        done = run_cli("eval", "-f", fmt, cwd=root)
        assert done.returncode in (1, 2), (fmt, done.stderr)  # a failed run, or refused input: never a crash
        assert_hidden(done, TAGS[tag], where.split(":")[0])
    if where.startswith("deploy"):
        facts = json.loads(run_cli("facts", "--provider", "kubernetes", cwd=root).stdout)
        (error,) = facts["kubernetes"]["errors"]
        assert (error["path"], error["line"], error["column"]) == ("deploy.yaml", 12, 38) and error["message"].startswith(TAGS[tag])


def test_a_bool_tag_on_a_non_boolean_is_invalid_input_not_a_crash(tmp_path):
    root = project(tmp_path)
    (root / "wfgy.yaml").write_text(CONFIG + "  env: {detect_kinds: !!bool Sk-Proj-CANARY}\n")
    for args in (["eval"], ["validate"], ["facts", "--provider", "env"]):
        done = run_cli(*args, cwd=root)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert_hidden(done, "wfgy.yaml:7:", "value tagged !!bool is not a valid bool (value not shown)")
