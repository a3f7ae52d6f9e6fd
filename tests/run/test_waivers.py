"""Waivers: waived results, per-item match, expired and unmatched warnings, list, schema."""

from __future__ import annotations

import json
from datetime import date, timedelta

from tests.helpers import run_cli

POLICY = """apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: team}
rules:
  - id: team.items
    title: every item ok
    severity: high
    facts: [file]
    for_each: file.data.items
    assert: item.ok
    message: "{{ item.path }} is not ok"
"""
FUTURE = (date.today() + timedelta(days=30)).isoformat()
PAST = (date.today() - timedelta(days=1)).isoformat()


def project(tmp_path, waivers: str):
    (tmp_path / "team.yaml").write_text(POLICY)
    (tmp_path / "data.yaml").write_text("items:\n  - {path: prompts/legacy/a.txt, ok: false}\n  - {path: prompts/new.txt, ok: false}\n")
    (tmp_path / "wfgy.yaml").write_text(
        "apiVersion: wfgy-rules/v1\nkind: Config\npolicies: [team.yaml]\nproviders: {file: {files: {data: data.yaml}}}\n" + waivers
    )


def report(tmp_path):
    done = run_cli("eval", "-f", "json", cwd=tmp_path)
    return done.returncode, json.loads(done.stdout)


def test_a_matching_waiver_waives_only_the_matched_item(tmp_path):
    project(tmp_path, f"waivers:\n  - {{rule: team.*, reason: rewrite in Q1, expires: '{FUTURE}', approved_by: sec, match: {{path: prompts/legacy/*}}}}\n")
    code, data = report(tmp_path)
    assert code == 1
    statuses = [(r["status"], r["message"]) for r in data["results"]]
    assert statuses == [("waived", "prompts/legacy/a.txt is not ok"), ("fail", "prompts/new.txt is not ok")]
    assert data["results"][0]["waiver"]["reason"] == "rewrite in Q1" and data["results"][0]["blocking"] is False
    assert data["summary"]["waived"] == 1


def test_waiving_everything_passes_the_run(tmp_path):
    project(tmp_path, f"waivers:\n  - {{rule: team.items, reason: known, expires: '{FUTURE}'}}\n")
    code, data = report(tmp_path)
    assert code == 0 and data["summary"]["waived"] == 2
    text = run_cli("eval", cwd=tmp_path).stdout
    assert "WAIVED" in text and f"waived: known (until {FUTURE})" in text


def test_expired_and_unmatched_waivers_warn_and_do_not_apply(tmp_path):
    project(tmp_path, f"waivers:\n  - {{rule: team.items, reason: old, expires: '{PAST}'}}\n  - {{rule: gone.rule, reason: stale, expires: '{FUTURE}'}}\n")
    code, data = report(tmp_path)
    assert code == 1
    by_rule = [(r["rule_id"], r["status"], r["action"], r["blocking"]) for r in data["results"]]
    assert by_rule[:2] == [("team.items", "fail", "abort", True)] * 2
    assert by_rule[2:] == [("wfgy.waiver-expired", "fail", "warn", False), ("wfgy.waiver-unmatched", "fail", "warn", False)]
    assert f"expired on {PAST}" in data["results"][2]["message"]
    listing = json.loads(run_cli("list", "--format", "json", cwd=tmp_path).stdout)
    assert [(w["rule"], w["state"]) for w in listing["waivers"]] == [("team.items", "expired"), ("gone.rule", "unmatched")]
    assert listing["rules"][0]["waivers"][0]["state"] == "expired"


def test_a_waiver_without_reason_is_invalid_config(tmp_path):
    project(tmp_path, f"waivers:\n  - {{rule: team.items, expires: '{FUTURE}'}}\n")
    done = run_cli("eval", cwd=tmp_path)
    assert done.returncode == 2 and "wfgy.yaml:6:5: waivers[0]: missing required key 'reason'" in done.stderr
