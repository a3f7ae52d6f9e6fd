"""Waivers (SPEC §4): governed, expiring exceptions declared in ``wfgy.yaml``.

::

    waivers:
      - rule: prompt.undeclared-placeholder   # an id or a glob (prompt.*)
        reason: legacy prompts are rewritten in Q1   # required
        expires: 2027-01-31                   # required; the last day it applies
        approved_by: sec-team                 # optional, like ticket
        match: {path: prompts/legacy/*}       # optional: only for_each elements whose fields match
                                              # (globs; a scalar element is matched as `value`)

A ``fail`` or ``error`` result of a matching rule becomes ``waived`` and names its waiver
(it no longer counts toward failing the run). A waiver past its ``expires`` date no longer
applies and adds a warning result (``wfgy.waiver-expired``); a waiver that names no loaded
rule adds one too (``wfgy.waiver-unmatched``), so auditors see stale exceptions. Warnings
never fail the run.
"""

from __future__ import annotations

import fnmatch
from dataclasses import replace
from datetime import date
from typing import Any

from wfgy_rules.model import Result, Rule, Severity, Status

EXPIRED = "wfgy.waiver-expired"
UNMATCHED = "wfgy.waiver-unmatched"


def waiver_state(waiver: dict[str, Any], rules: list[Rule] | tuple[Rule, ...], today: date) -> str:
    """``active``, ``expired`` or ``unmatched``."""
    if not any(fnmatch.fnmatchcase(rule.id, waiver["rule"]) for rule in rules):
        return "unmatched"
    return "expired" if date.fromisoformat(waiver["expires"]) < today else "active"


def apply_waivers(results: list[Result], config, rules, today: date) -> list[Result]:
    """Results with active waivers applied, plus a warning result per stale waiver."""
    active, warnings = sort_waivers(config, rules, today)
    return [*waive(results, active), *warnings]


def sort_waivers(config, rules, today: date) -> tuple[list[dict[str, Any]], list[Result]]:
    """The config's active waivers, and a warning result per stale one: what a fleet run
    computes once and applies bundle by bundle (`waive`)."""
    active, warnings = [], []
    for position, waiver in enumerate(config.waivers):
        state = waiver_state(waiver, rules, today)
        if state == "active":
            active.append(waiver)
        else:
            warnings.append(_warning(waiver, state, position))
    return active, warnings


def waive(results: list[Result], active: list[dict[str, Any]]) -> list[Result]:
    """``results`` with the ``active`` waivers applied."""
    return [_waive(result, active) for result in results] if active else results


def _waive(result: Result, waivers: list[dict[str, Any]]) -> Result:
    if not result.status.failing:
        return result
    for waiver in waivers:
        if fnmatch.fnmatchcase(result.rule_id, waiver["rule"]) and _matches(waiver.get("match"), result.subject):
            return replace(result, status=Status.waived, waiver=dict(waiver))
    return result


def _matches(match: dict[str, Any] | None, subject: dict[str, Any] | None) -> bool:
    if not match:
        return True
    if subject is None:
        return False
    return all(field in subject and fnmatch.fnmatchcase(str(subject[field]), str(pattern)) for field, pattern in match.items())


def _warning(waiver: dict[str, Any], state: str, position: int) -> Result:
    if state == "expired":
        rule_id, title = EXPIRED, "waiver expired"
        message = f"waiver for {waiver['rule']} expired on {waiver['expires']} ({waiver['reason']}); the rule counts again"
    else:
        rule_id, title = UNMATCHED, "waiver matches no rule"
        message = f"waiver for {waiver['rule']} matches no loaded rule ({waiver['reason']})"
    return Result(
        rule_id=rule_id,
        policy="wfgy",
        title=title,
        severity=Severity.low,
        status=Status.fail,
        action="warn",
        message=message,
        hint="Renew, narrow or remove the waiver in wfgy.yaml.",
        order=(1 << 30, position),
        waiver=dict(waiver),
    )
