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


# apply_waivers itself: which results a waiver takes, on which days, and its warnings.
from types import SimpleNamespace  # noqa: E402

import pytest  # noqa: E402

from wfgy_rules.model import Result, Severity, Status  # noqa: E402
from wfgy_rules.run.waivers import apply_waivers, waiver_state  # noqa: E402

TODAY = date(2027, 1, 31)
RULES = [SimpleNamespace(id="team.items"), SimpleNamespace(id="team.other")]


def unit(status="fail", rule_id="team.items", subject=None, **fields) -> Result:
    return Result(rule_id=rule_id, policy="team", title="t", severity=Severity.high, status=Status(status),
                  action="abort", subject=subject, **fields)


def waive(results, *waivers, today=TODAY):
    return apply_waivers(list(results), SimpleNamespace(waivers=list(waivers)), RULES, today)


def waiver(rule="team.items", expires="2027-01-31", **more):
    return {"rule": rule, "reason": "known", "expires": expires, **more}


@pytest.mark.parametrize("expires,state", [("2027-01-30", "expired"), ("2027-01-31", "active"), ("2027-02-01", "active")])
def test_a_waiver_applies_through_its_expires_day(expires, state):
    assert waiver_state(waiver(expires=expires), RULES, TODAY) == state
    (first, *warnings) = waive([unit()], waiver(expires=expires))
    assert first.status is (Status.waived if state == "active" else Status.fail)
    assert [w.rule_id for w in warnings] == ([] if state == "active" else ["wfgy.waiver-expired"])


@pytest.mark.parametrize("status,waived", [("fail", True), ("error", True), ("pass", False), ("skip", False)])
def test_only_failing_results_are_waived(status, waived):
    (done,) = waive([unit(status)], waiver())
    assert done.status is (Status.waived if waived else Status(status))
    assert done.waiver == (waiver() if waived else None)


def test_a_waiver_names_its_rule_by_id_or_glob():
    results = [unit(rule_id="team.items"), unit(rule_id="team.other")]
    assert [r.status.value for r in waive(results, waiver("team.items"))] == ["waived", "fail"]
    assert [r.status.value for r in waive(results, waiver("team.*"))] == ["waived", "waived"]
    assert [r.status.value for r in waive(results, waiver("team.item"))] == ["fail", "fail", "fail"]  # + unmatched warning


@pytest.mark.parametrize("match,subject,waived", [
    (None, None, True),
    ({}, None, True),
    ({"path": "legacy/*"}, None, False),  # match is only for for_each elements
    ({"path": "legacy/*"}, {"path": "legacy/a.txt"}, True),
    ({"path": "legacy/*"}, {"path": "new/a.txt"}, False),
    ({"path": "legacy/*", "kind": "x"}, {"path": "legacy/a.txt"}, False),  # every field is required
    ({"path": "legacy/*", "kind": "x"}, {"path": "legacy/a.txt", "kind": "y"}, False),
    ({"path": "legacy/*", "kind": "x"}, {"path": "legacy/a.txt", "kind": "x"}, True),
    ({"line": 3}, {"line": 3}, True),  # numbers match as their text
    ({"line": "1*"}, {"line": 12}, True),
    ({"value": "sk-*"}, {"value": "sk-1"}, True),  # a scalar element is matched as `value`
])
def test_match_narrows_a_waiver_to_elements(match, subject, waived):
    extra = {} if match is None else {"match": match}
    (done,) = waive([unit(subject=subject)], waiver(**extra))
    assert done.status is (Status.waived if waived else Status.fail)


def test_the_first_matching_waiver_is_named():
    first, second = waiver(match={"path": "a*"}, ticket="T-1"), waiver(ticket="T-2")
    results = waive([unit(subject={"path": "ab"}), unit(subject={"path": "b"})], first, second)
    assert [r.waiver["ticket"] for r in results] == ["T-1", "T-2"]


def test_stale_waivers_warn_at_low_severity_after_the_results():
    expired = waiver(expires="2026-12-31")
    unmatched = waiver("gone.*", reason="stale")
    results = waive([unit()], expired, waiver(), unmatched)
    assert [(r.rule_id, r.status.value) for r in results] == [
        ("team.items", "waived"), ("wfgy.waiver-expired", "fail"), ("wfgy.waiver-unmatched", "fail")]
    for warning, position in zip(results[1:], (0, 2)):
        assert (warning.severity, warning.action, warning.policy, warning.order) == (Severity.low, "warn", "wfgy", (1 << 30, position))
        assert warning.hint == "Renew, narrow or remove the waiver in wfgy.yaml."
    assert results[1].message == "waiver for team.items expired on 2026-12-31 (known); the rule counts again"
    assert results[1].title == "waiver expired" and results[1].waiver == expired
    assert results[2].message == "waiver for gone.* matches no loaded rule (stale)"
    assert results[2].title == "waiver matches no rule" and results[2].waiver == unmatched
    assert waiver_state(unmatched, RULES, TODAY) == "unmatched"
    assert waiver_state(waiver("gone.*", expires="2000-01-01"), RULES, TODAY) == "unmatched"
