"""``--format sarif``: valid SARIF 2.1.0 that GitHub code scanning accepts (the official
validator's GitHub rules where it is installed, GitHub's documented requirements by hand
everywhere), rules with help and levels, every result located inside the repository,
suppressed waivers, fingerprints that survive rewording, byte-identical output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from tests.helpers import SHARED_EXTERNAL, run_cli
from tests.reporters.conftest import CONFIG, DATA, TEAM, report, rule_line, serving_line

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
    assert levels == {  # the level a failure would get under --fail-on low: abort rules fail the run
        "team.max-len": ("error", "8.0"), "team.replicas": ("error", "5.5"), "team.items": ("error", "9.5"),
        "team.soft": ("warning", "3.0"), "team.note": ("note", "0.0"), "ops.port": ("error", "5.5"), "ops.gpu": ("error", "3.0"),
    }
    first = driver["rules"][0]
    assert first["name"] == first["shortDescription"]["text"] == "max length fits context"
    assert first["fullDescription"]["text"] == "The served max_model_len must fit the model's context window."
    assert first["help"]["text"] == "Lower max_model_len."
    assert first["help"]["markdown"].splitlines() == [
        "**max length fits context** (`team.max-len`, severity high)", "",
        "The served max\\_model\\_len must fit the model's context window.", "",
        "**Remedy** (abort): Lower max\\_model\\_len.", "",
        "Run `wfgy-rules explain team.max-len` for the rule's parameters and a trace; waive or tune it under `waivers:` / `rules:` in `wfgy.yaml`.",
    ]
    assert "helpUri" not in first  # a team rule without references: no page to point at
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
        ("team.max-len", 0, "error", "serving.yaml", {"startLine": serving_line("max_model_len"), "startColumn": 1}, False),  # the key it judged
        ("team.items", 2, "note", "prompts/legacy/a.txt", {"startLine": 3, "startColumn": 5}, True),  # waived: dismissed
        ("team.items", 2, "error", "prompts/new.txt", {"startLine": 7, "startColumn": 1}, False),  # ./ dropped
        ("team.soft", 3, "warning", "serving.yaml", {"startLine": serving_line("pinned"), "startColumn": 1}, False),
        ("team.note", 4, "note", "serving.yaml", {"startLine": serving_line("replicas"), "startColumn": 1}, False),
        ("ops.port", 5, "error", "serving.yaml", {"startLine": serving_line("port"), "startColumn": 1}, False),  # could not be evaluated: fails closed
    ]
    waived = run["results"][1]
    assert waived["suppressions"] == [{"kind": "external", "justification": "legacy prompts, rewrite in Q1"}]
    assert run["results"][2]["message"]["text"] == "./prompts/new.txt is not ok: 100%, a|b: c\nnext <b> & more"
    assert run["results"][0]["properties"]["evidence"] == [{"key": "file.serving.max_model_len <= params.context", "op": "<=", "left": 8192, "right": 4096}]
    assert run["properties"]["outcome"] == "fail" and run["properties"]["policy_digest"].startswith("sha256:")


def test_a_line_without_a_column_and_paths_relative_to_the_repository(project, tmp_path_factory):
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
        {"artifactLocation": {"uri": "prompts/b.txt"}, "region": {"startLine": 2, "startColumn": 3}},  # inside the repository
        # outside the repository: GitHub could not show it; the element in the file it came from instead
        {"artifactLocation": {"uri": "data.yaml"}, "region": {"startLine": 1, "startColumn": (project / "data.yaml").read_text().index(json.dumps({"path": str(outside)})[:-1]) + 1}},
    ]
    (project / "data.yaml").unlink()  # a judged file that is gone: the rule that judged it
    results = [r for r in sarif(project)["runs"][0]["results"] if r["ruleId"] == "team.items"]
    assert results[0]["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "team.yaml"}, "region": {"startLine": rule_line("team.items"), "startColumn": 5}}


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


def test_builtin_rules_point_at_what_they_judged_in_the_repository(project):
    """A shipped rule's policy file is outside the repository: its results point at the
    ``wfgy.yaml`` line configuring the provider it read, the tool's waiver warnings at the
    waiver's entry; every result has a location, or GitHub refuses the whole file."""
    (project / "prompts").mkdir()
    (project / "prompts" / "hello.j2").write_text("Hello {{ name }}\n")
    (project / "prompt_vars.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: PromptVars\nvars:\n  tone: {default: friendly}\n")
    config = CONFIG.replace("  file:", "  prompts: {vars: prompt_vars.yaml}\n  file:").replace("[team.yaml, ops.yaml]", "[builtin]")
    config += "rules:\n  prompt.unused-var: {enabled: true}\n"
    (project / "wfgy.yaml").write_text(config)
    lines = config.splitlines()
    run = sarif(project, "--only", "prompt.*")["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert rules[-1]["id"] == "wfgy.waiver-unmatched" and all(r["id"].startswith("prompt.") for r in rules[:-1])
    assert {r["helpUri"] for r in rules} == {"https://github.com/wfgy-rules/wfgy-rules#prompt-lint", "https://github.com/wfgy-rules/wfgy-rules#waivers"}
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["prompt.undeclared-placeholder"]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "prompts/hello.j2"}, "region": {"startLine": 1, "startColumn": 10}}
    assert by_rule["prompt.unused-var"]["locations"][0]["physicalLocation"] == {  # the prompts provider's settings
        "artifactLocation": {"uri": "wfgy.yaml"}, "region": {"startLine": lines.index("  prompts: {vars: prompt_vars.yaml}") + 1, "startColumn": 3}}
    assert by_rule["prompt.unused-var"]["level"] == "note"
    unmatched = by_rule["wfgy.waiver-unmatched"]
    assert unmatched["ruleIndex"] == len(rules) - 1
    assert unmatched["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "wfgy.yaml"}, "region": {"startLine": next(n for n, line in enumerate(lines, 1) if "rule: team.items" in line), "startColumn": 5}}


MODEL_CARD = '{\n  "model": "acme/bot",\n  "torch": "2.3.1",\n  "requires_gpu": true\n}\n'


def test_model_card_rules_point_at_the_key_they_read(project):
    (project / "model-card.json").write_text(MODEL_CARD)
    (project / "wfgy.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Config\npolicies: [builtin]\nproviders:\n  model_card: {path: model-card.json}\n  runtime: {packages: [torch]}\n")
    facts = {"model_card": {"present": True, "path": "model-card.json", "declared": {"model": "acme/bot", "torch": "2.3.1", "requires_gpu": True}},
             "runtime": {"packages": {"torch": "2.5.0"}, "python": "3.11.0", "cuda": {"compiled": None, "source": None}, "model_dir": {"present": False}},
             "nvml": {"available": False, "error": "no driver", "error_kind": "no_driver", "device_count": 0, "devices": []}}
    (project / "facts.json").write_text(json.dumps(facts))
    results = {r["ruleId"]: r["locations"][0]["physicalLocation"] for r in sarif(project, "--facts", "facts.json", "--only", "semvers.torch-version", "--only", "cuda.gpu-present")["runs"][0]["results"]}
    assert results == {
        "semvers.torch-version": {"artifactLocation": {"uri": "model-card.json"}, "region": {"startLine": 3, "startColumn": 3}},  # "torch"
        "cuda.gpu-present": {"artifactLocation": {"uri": "model-card.json"}, "region": {"startLine": 4, "startColumn": 3}},  # "requires_gpu"
    }


def test_paths_are_relative_to_the_repository_root_not_the_working_directory(project):
    """Run from a subdirectory of a git checkout: URIs stay relative to its top level;
    ``--root`` says otherwise."""
    (project / ".git").mkdir()
    service = project / "services" / "bot"
    service.mkdir(parents=True)
    for name in ("team.yaml", "ops.yaml", "wfgy.yaml", "serving.yaml", "data.yaml"):
        (project / name).rename(service / name)

    def uris(*args: str) -> list[str]:
        return [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif(service, *args)["runs"][0]["results"]]

    assert uris()[:3] == ["services/bot/serving.yaml", "services/bot/prompts/legacy/a.txt", "services/bot/prompts/new.txt"]
    assert uris("--root", ".")[:3] == ["serving.yaml", "prompts/legacy/a.txt", "prompts/new.txt"]
    assert uris("--root", "..")[0] == "bot/serving.yaml"


def test_a_run_without_a_config_points_at_where_wfgy_yaml_would_be(tmp_path):
    (tmp_path / "facts.json").write_text(json.dumps({"secrets": {"required": ["OPENAI_API_KEY"], "present": {}, "missing": ["OPENAI_API_KEY"]}}))
    run = json.loads(run_cli("eval", "--defaults", "--facts", "facts.json", "--only", "boot.secrets-present", "--format", "sarif", cwd=tmp_path).stdout)["runs"][0]
    assert [r["locations"][0]["physicalLocation"] for r in run["results"]] == [
        {"artifactLocation": {"uri": "wfgy.yaml"}, "region": {"startLine": 1, "startColumn": 1}}]


def test_meets_github_code_scanning_requirements(project):
    """GitHub's documented requirements (docs.github.com: SARIF support for code scanning),
    checked by hand so they hold where the official validator cannot run."""
    (project / "model-card.json").write_text(MODEL_CARD)
    (project / "wfgy.yaml").write_text(CONFIG.replace("[team.yaml, ops.yaml]", "[builtin, team.yaml, ops.yaml]"))
    data = sarif(project)
    assert_github_requirements(data)


def assert_github_requirements(data: dict) -> None:
    assert data["version"] == "2.1.0" and len(data["runs"]) == 1
    run = data["runs"][0]
    driver = run["tool"]["driver"]
    ids = [rule["id"] for rule in driver["rules"]]
    assert len(ids) == len(set(ids)), "rule ids are unique"
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert float(rule["properties"]["security-severity"]) >= 0
    assert run["results"], "the project fails some rules"
    for result in run["results"]:
        assert result["ruleId"] in ids and ids[result["ruleIndex"]] == result["ruleId"]
        assert result["message"]["text"] and result["level"] in ("error", "warning", "note")
        assert 1 <= len(result["locations"]) <= 10, "expected at least one location"
        physical = result["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert uri and "://" not in uri and not uri.startswith(("/", "./", "../")), f"{uri}: relative to the repository root"
        assert physical.get("region", {}).get("startLine", 1) >= 1
        assert result["partialFingerprints"]


def _sarif_multitool() -> list[str] | None:
    """The official validator (Microsoft's SARIF Multitool, a self-contained .NET binary in the
    npm package @microsoft/sarif-multitool): ``WFGY_SARIF_MULTITOOL``, else ``sarif-multitool``
    on PATH (``npm install -g @microsoft/sarif-multitool``). The npm launcher runs the binary
    through a shell, which would split ``Gh;Sarif`` at the semicolon; the binary is called directly."""
    found = os.environ.get("WFGY_SARIF_MULTITOOL") or shutil.which("sarif-multitool")
    if not found:
        return None
    path = Path(found).resolve()
    if path.name == "bin.js":  # the npm launcher: its package knows the platform binary
        node = shutil.which("node")
        if node is None:
            return None
        binary = subprocess.run([node, "-p", f"require({str(path.parent)!r})"], capture_output=True, text=True).stdout.strip()
        return [binary] if binary else None
    return [str(path)]


def test_official_validator_with_github_rules(project, tmp_path_factory):
    """``sarif-multitool validate --rule-kind "Gh;Sarif"``: GitHub's ingestion rules (GHxxxx)
    and SARIF's own; no result of level error. Skipped where the validator is not installed
    (CI: ``npm install -g @microsoft/sarif-multitool``, or point WFGY_SARIF_MULTITOOL at it)."""
    tool = _sarif_multitool()
    if tool is None:
        pytest.skip("the SARIF Multitool is not installed: npm install -g @microsoft/sarif-multitool (or set WFGY_SARIF_MULTITOOL)")
    (project / "model-card.json").write_text(MODEL_CARD)
    (project / "wfgy.yaml").write_text(CONFIG.replace("[team.yaml, ops.yaml]", "[builtin, team.yaml, ops.yaml]"))
    out = tmp_path_factory.mktemp("validator")
    (out / "wfgy.sarif").write_text(report(project, "sarif"), encoding="utf-8")
    done = subprocess.run([*tool, "validate", "--rule-kind", "Gh;Sarif", str(out / "wfgy.sarif"), "--output", str(out / "log.sarif")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    log = json.loads((out / "log.sarif").read_text(encoding="utf-8-sig"))
    findings = [(r["ruleId"], r.get("level", "warning")) for run in log["runs"] for r in run.get("results", [])]
    assert findings == [], done.stdout  # not even a warning (GH1015 "no locations" is an error)


def test_byte_identical_across_runs(project):
    outputs = {report(project, "sarif", env={"PYTHONHASHSEED": seed}) for seed in ("0", "1", "4242")}
    assert len(outputs) == 1
