"""The outcome table (SPEC §6): which results block a run, forcing, counts and report order."""

from __future__ import annotations

import itertools

import pytest

from wfgy_rules.model import Result, Severity, Status
from wfgy_rules.run.outcome import decide, is_blocking

# fail_on -> the severities of a failing, blocking-action result that fail the run
BLOCKING_SEVERITIES = {
    "info": {"low", "medium", "high", "critical"},  # info never fails a run, even at fail_on info
    "low": {"low", "medium", "high", "critical"},
    "medium": {"medium", "high", "critical"},
    "high": {"high", "critical"},
    "critical": {"critical"},
}
BLOCKING_STATUSES = {"fail", "error"}     # pass, skip and waived never block
BLOCKING_ACTIONS = {"abort", "block"}     # warn and fallback never block


def result(severity="high", status="fail", action="abort", **fields) -> Result:
    return Result(rule_id=fields.pop("rule_id", "t.r"), policy="t", title="t", severity=Severity[severity],
                  status=Status(status), action=action, **fields)


CASES = list(itertools.product(
    [s.value for s in Status], ["abort", "block", "warn", "fallback"], [s.name for s in Severity], [s.name for s in Severity],
))


@pytest.mark.parametrize("status,action,severity,fail_on", CASES)
def test_the_outcome_table(status, action, severity, fail_on):
    blocking = status in BLOCKING_STATUSES and action in BLOCKING_ACTIONS and severity in BLOCKING_SEVERITIES[fail_on]
    unit = result(severity, status, action)
    assert is_blocking(unit, Severity[fail_on]) is blocking
    outcome = decide([unit], Severity[fail_on], force=False)
    assert (outcome.failed, outcome.forced, outcome.exit_code, outcome.overridden) == (blocking, False, int(blocking), [])
    assert outcome.results[0].blocking is blocking
    forced = decide([unit], Severity[fail_on], force=True)
    assert (forced.failed, forced.forced, forced.exit_code) == (blocking, blocking, 0)
    assert forced.overridden == ([forced.results[0]] if blocking else [])


def test_one_blocking_result_fails_the_run_and_force_lists_only_the_blocking_ones():
    results = [result("low", "fail", "abort", rule_id="t.a"), result("high", "fail", "warn", rule_id="t.b"),
               result("high", "error", "block", rule_id="t.c"), result("high", "pass", "abort", rule_id="t.d")]
    outcome = decide(results, Severity.medium, force=True)
    assert outcome.failed and outcome.forced and outcome.exit_code == 0
    assert [r.rule_id for r in outcome.overridden] == ["t.c"]
    assert [(r.rule_id, r.blocking) for r in outcome.results] == [("t.a", False), ("t.b", False), ("t.c", True), ("t.d", False)]
    assert outcome.summary == {"pass": 1, "fail": 2, "skip": 0, "error": 1, "waived": 0}


def test_a_stale_blocking_mark_is_recomputed():
    stale = result("low", "fail", "abort", blocking=True)
    (marked,) = decide([stale], Severity.high, force=False).results
    assert marked.blocking is False


def test_report_order_in_a_fleet_run():
    """Bundles by file name, then policy and rule order, then element; waiver warnings (no target) first."""
    warning = result("low", "fail", "warn", rule_id="wfgy.waiver-expired", order=(1 << 30, 0))
    results = [
        result(rule_id="t.b", target="b.json", order=(0, 1)),
        result(rule_id="t.a", target="b.json", order=(0, 0), index=1),
        result(rule_id="t.a", target="b.json", order=(0, 0), index=0),
        result(rule_id="t.z", target="a.json", order=(1, 0)),
        result(rule_id="t.y", target="a.json", order=(0, 2)),
        warning,
        result(rule_id="t.x", target="a.json", order=(0, 2), index=0),
    ]
    ordered = decide(results, Severity.low, force=False).results
    assert [(r.target, r.rule_id, r.index) for r in ordered] == [
        (None, "wfgy.waiver-expired", None),
        ("a.json", "t.y", None),
        ("a.json", "t.x", 0),
        ("a.json", "t.z", None),
        ("b.json", "t.a", 0),
        ("b.json", "t.a", 1),
        ("b.json", "t.b", None),
    ]


def test_an_empty_run_passes():
    outcome = decide([], Severity.low, force=True)
    assert (outcome.failed, outcome.forced, outcome.exit_code, outcome.results) == (False, False, 0, ())


def test_an_outcome_is_immutable():
    import dataclasses

    outcome = decide([result()], Severity.low, force=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.failed = False
