"""A policy is data that can only look: it cannot read files, run code, reach the network,
or see facts it did not ask for.

* Expressions are JMESPath plus a fixed table of pure functions; the table is pinned here,
  so adding a function is a reviewed change. An unknown function is a load error.
* A rule sees only the providers in its ``facts`` (and ``params``): naming another provider
  anywhere is a load error, and even ``@`` (the whole evaluation context) holds nothing else.
* Only ``wfgy.yaml`` configures providers (which files, which variables); a policy cannot,
  so it cannot make the ``file`` provider read ``/etc/passwd``.
"""

from __future__ import annotations

import json

import pytest
from jmespath import functions as jmespath_functions

from tests.helpers import TEAM_POLICY, run_cli
from wfgy_rules.policy.functions import FUNCTION_NAMES

CUSTOM = {"version_cmp", "version_satisfies", "version_drift", "regex_match", "close_matches",
          "add", "subtract", "multiply", "divide", "mod", "round", "record_changes"}
IO_WORDS = ("open", "read", "write", "file", "path", "dir", "glob", "exec", "eval", "system", "shell", "spawn",
            "popen", "process", "import", "load", "env", "getenv", "http", "url", "fetch", "request", "socket",
            "net", "dns", "include", "time", "now", "date", "random", "uuid")


def test_the_function_table_is_jmespath_plus_pure_functions():
    assert FUNCTION_NAMES == frozenset(jmespath_functions.Functions.FUNCTION_TABLE) | CUSTOM
    for name in FUNCTION_NAMES:
        assert not any(word in name for word in IO_WORDS), name


def rule(assertion: str, facts: str = "[file]", extra: str = "") -> str:
    return ("apiVersion: wfgy-rules/v1\nkind: Policy\nmetadata: {name: p}\nrules:\n"
            f"  - id: p.r\n    title: r\n    severity: high\n    facts: {facts}\n    assert: {json.dumps(assertion)}\n{extra}")


@pytest.mark.parametrize("name", ["read_file", "open", "env", "exec", "system", "http_get", "load", "import_module", "now"])
def test_unknown_functions_are_refused_at_load(tmp_path, name):
    (tmp_path / "p.yaml").write_text(rule(f"{name}('/etc/passwd')"))
    done = run_cli("validate", "p.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert f"p.yaml:9:13: rules[0].assert: unknown function {name}()" in done.stderr


@pytest.mark.parametrize("where,text", [
    ("assert", "env.names"),
    ("assert", "length(env.values) > `0`"),
    ("assert", "{x: env}"),
    ("assert", "[file, env][1]"),
    ("assert", "not_null(env, file)"),
    ("assert", "file || env"),
    ("assert", "!env"),
    ("assert", "sort_by(env.declared, &name)[0]"),
    ("when", "env.present"),
    ("for_each", "env.names"),
    ("message", "secret: {{ env.values }}"),
    ("key", "env.values.OPENAI_API_KEY"),
    ("value_from", "secrets.present"),
])
def test_reading_a_provider_not_in_facts_is_a_load_error(tmp_path, where, text):
    if where == "assert":
        policy = rule(text)
    elif where in ("key", "value_from"):
        condition = {"key": text, "op": "exists"} if where == "key" else {"key": "file.x", "op": "eq", "value_from": text}
        policy = rule("x").replace('assert: "x"', "assert: " + json.dumps(condition))
    else:
        policy = rule("file.x", extra=f"    {where}: {json.dumps(text)}\n")
    (tmp_path / "p.yaml").write_text(policy)
    done = run_cli("eval", "--policy", "p.yaml", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "which is not in facts, params" in done.stderr
    assert "'env'" in done.stderr or "'secrets'" in done.stderr


def test_the_whole_context_holds_only_the_rules_own_providers(tmp_path):
    """``@`` and ``keys(@)`` show a rule everything it can see: its providers and params."""
    (tmp_path / "p.yaml").write_text(rule("`false`", extra='    message: "{{ keys(@) }} {{ @ }}"\n'))
    bundle = {"file": {"serving": {"ok": True}}, "env": {"names": ["SECRET_NAME_ONLY"]}, "_errors": {"nvml": "absent"}}
    (tmp_path / "facts.json").write_text(json.dumps(bundle))
    done = run_cli("eval", "--policy", "p.yaml", "--facts", "facts.json", "-f", "json", cwd=tmp_path)
    (result,) = json.loads(done.stdout)["results"]
    assert result["message"] == '["file", "params"] {"file": {"serving": {"ok": true}}, "params": {"ignore_versions": []}}'


def test_a_policy_cannot_configure_providers(tmp_path):
    """``params`` are data for expressions, never provider settings: ``file`` reads only the
    files ``wfgy.yaml`` names. A ``providers`` key in a policy is an unknown key."""
    (tmp_path / "p.yaml").write_text(rule("file.passwd == null", extra="    params: {files: {passwd: /etc/passwd}}\n"
                                          '    message: "{{ file }}"\n'))
    done = run_cli("eval", "--policy", "p.yaml", "-f", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "root:" not in done.stdout
    (tmp_path / "q.yaml").write_text(TEAM_POLICY + "providers: {file: {files: {passwd: /etc/passwd}}}\n")
    done = run_cli("validate", "q.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "q.yaml:13:1: providers: unknown key 'providers'" in done.stderr


def test_unknown_providers_are_a_load_error(tmp_path):
    (tmp_path / "p.yaml").write_text(rule("shell.out", facts="[shell]"))
    done = run_cli("validate", "p.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "rules[0].facts[0]: unknown provider 'shell'" in done.stderr
