"""``--format sarif``: valid SARIF 2.1.0, rules with help and levels, located results,
suppressed waivers, fingerprints that survive rewording, byte-identical output."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.helpers import SHARED_EXTERNAL
from tests.reporters.conftest import CONFIG, DATA, TEAM, report, rule_line

SARIF_SCHEMA = SHARED_EXTERNAL / "sarif-schema-2.1.0.json"


def sarif(project: Path, *args: str) -> dict:
    data = json.loads(report(project, "sarif", *args))
    if SARIF_SCHEMA.exists():
        jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))).validate(data)
    return data


def test_valid_against_the_official_sarif_2_1_0_schema(project):
    if not SARIF_SCHEMA.exists():
        pytest.skip(f"the official SARIF schema is not at {SARIF_SCHEMA} (shared/external is not checked out)")
    data = json.loads(report(project, "sarif"))
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))).validate(data)
    assert data["version"] == "2.1.0"


def test_driver_describes_every_loaded_rule(project):
    driver = sarif(project)["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["informationUri"]) == ("wfgy-rules", "https://github.com/wfgy-rules/wfgy-rules")
    assert [r["id"] for r in driver["rules"]] == ["team.max-len", "team.replicas", "team.items", "team.soft", "team.note", "ops.port", "ops.gpu"]
    levels = {r["id"]: (r["defaultConfiguration"]["level"], r["properties"]["security-severity"]) for r in driver["rules"]}
    assert levels == {
        "team.max-len": ("error", "8.0"), "team.replicas": ("warning", "5.5"), "team.items": ("error", "9.5"),
        "team.soft": ("warning", "3.0"), "team.note": ("note", "0.0"), "ops.port": ("warning", "5.5"), "ops.gpu": ("warning", "3.0"),
    }
    first = driver["rules"][0]
    assert first["name"] == first["shortDescription"]["text"] == "max length fits context"
    assert first["fullDescription"]["text"] == "The served max_model_len must fit the model's context window."
    assert first["help"]["text"] == "Lower max_model_len."
    assert first["properties"]["tags"] == ["team", "security", "serving"]
    assert driver["rules"][1]["fullDescription"]["text"] == "at least two replicas"  # no description: the title


def test_results_are_failures_errors_and_waivers_with_locations(project):
    run = sarif(project)["runs"][0]
    rows = [
        (r["ruleId"], r["ruleIndex"], r["level"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
         r["locations"][0]["physicalLocation"].get("region"), "suppressions" in r)
        for r in run["results"]
    ]
    assert rows == [
        ("team.max-len", 0, "error", "team.yaml", {"startLine": rule_line("team.max-len"), "startColumn": 5}, False),  # no item: the rule in its policy
        ("team.items", 2, "error", "prompts/legacy/a.txt", {"startLine": 3, "startColumn": 5}, True),
        ("team.items", 2, "error", "prompts/new.txt", {"startLine": 7, "startColumn": 1}, False),  # ./ dropped
        ("team.soft", 3, "warning", "team.yaml", {"startLine": rule_line("team.soft"), "startColumn": 5}, False),
        ("team.note", 4, "note", "team.yaml", {"startLine": rule_line("team.note"), "startColumn": 5}, False),
        ("ops.port", 5, "error", "ops.yaml", {"startLine": rule_line("ops.port"), "startColumn": 5}, False),  # an error result is always "error"
    ]
    waived = run["results"][1]
    assert waived["suppressions"] == [{"kind": "external", "justification": "legacy prompts, rewrite in Q1"}]
    assert run["results"][2]["message"]["text"] == "./prompts/new.txt is not ok: 100%, a|b: c\nnext <b> & more"
    assert run["results"][0]["properties"]["evidence"] == [{"key": "file.serving.max_model_len <= params.context", "op": "<=", "left": 8192, "right": 4096}]
    assert run["properties"]["outcome"] == "fail" and run["properties"]["policy_digest"].startswith("sha256:")


def test_a_line_without_a_column_and_absolute_paths(project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "x.txt"
    items = [
        {"path": "prompts/a.txt", "line": 4, "ok": False},
        {"path": str(project / "prompts" / "b.txt"), "line": 2, "column": 3, "ok": False},
        {"path": str(outside), "ok": False},
    ]
    (project / "data.yaml").write_text(json.dumps({"items": items}))
    results = [r for r in sarif(project)["runs"][0]["results"] if r["ruleId"] == "team.items"]
    locations = [r["locations"][0]["physicalLocation"] for r in results]
    assert locations == [
        {"artifactLocation": {"uri": "prompts/a.txt"}, "region": {"startLine": 4}},
        {"artifactLocation": {"uri": "prompts/b.txt"}, "region": {"startLine": 2, "startColumn": 3}},  # under the working directory
        {"artifactLocation": {"uri": outside.as_uri()}},
    ]


def test_fingerprints_are_stable_and_ignore_the_message(project):
    def fingerprints() -> list[tuple[str, str, str]]:
        return [(r["ruleId"], r["message"]["text"], r["partialFingerprints"]["wfgyRuleLocation/v1"]) for r in sarif(project)["runs"][0]["results"]]

    first = fingerprints()
    assert fingerprints() == first
    assert len({fp for _, _, fp in first}) == len(first)  # one identity per result
    (project / "team.yaml").write_text(TEAM.replace('"{{ item.path }} is not ok: {{ item.note }}"', '"{{ item.path }} is broken"'))
    (project / "data.yaml").write_text(DATA.replace("note: old", "note: older"))
    reworded = fingerprints()
    assert [m for _, m, _ in reworded] != [m for _, m, _ in first]
    assert [(rule, fp) for rule, _, fp in reworded] == [(rule, fp) for rule, _, fp in first]
    (project / "data.yaml").write_text(DATA.replace("line: 7", "line: 8"))
    moved = fingerprints()
    assert [fp for _, _, fp in moved] != [fp for _, _, fp in first]


def test_builtin_rules_have_no_location_and_tool_warnings_get_a_rule(project):
    (project / "prompts").mkdir()
    (project / "prompts" / "hello.j2").write_text("Hello {{ name }}\n")
    (project / "prompt_vars.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: PromptVars\nvars:\n  tone: {default: friendly}\n")
    (project / "wfgy.yaml").write_text(
        CONFIG.replace("  file:", "  prompts: {vars: prompt_vars.yaml}\n  file:").replace("[team.yaml, ops.yaml]", "[builtin]")
        + "rules:\n  prompt.unused-var: {enabled: true}\n"
    )
    run = sarif(project, "--only", "prompt.*")["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rules[-1] == "wfgy.waiver-unmatched" and all(r.startswith("prompt.") for r in rules[:-1])
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["prompt.undeclared-placeholder"]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "prompts/hello.j2"}, "region": {"startLine": 1, "startColumn": 10}}
    assert "locations" not in by_rule["prompt.unused-var"]  # a builtin rule has no file in this repository
    assert by_rule["prompt.unused-var"]["level"] == "note"
    unmatched = by_rule["wfgy.waiver-unmatched"]
    assert unmatched["ruleIndex"] == len(rules) - 1 and "locations" not in unmatched


def test_byte_identical_across_runs(project):
    outputs = {report(project, "sarif", env={"PYTHONHASHSEED": seed}) for seed in ("0", "1", "4242")}
    assert len(outputs) == 1
