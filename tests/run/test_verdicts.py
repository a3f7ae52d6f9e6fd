"""A fleet judges each rule once per distinct text of the sections it reads
(`wfgy_rules.run.verdicts`): the results must be those of judging every bundle afresh, on
fleets that repeat sections and fleets that do not, with failed providers, missing ones,
``for_each`` results pointing at files, and waivers; memory stays bounded; a rule stopped by
its time budget is never reused."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.helpers import REPO, run_cli
from wfgy_rules.documents.fact_bundles import read_bundle
from wfgy_rules.model import Result, Status
from wfgy_rules.run import fleet as fleet_module
from wfgy_rules.run.fleet import Plan
from wfgy_rules.run.session import open_session
from wfgy_rules.run.verdicts import Verdicts

WAIVER = """
waivers:
  - {rule: prompt.undeclared-placeholder, reason: legacy prompt, expires: 2999-01-01, match: {path: prompts/legacy/*}}
"""


@pytest.fixture(scope="module")
def template() -> dict:
    done = run_cli("facts", "--config", str(REPO / "policies.example" / "wfgy.yaml"))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def variants(template: dict) -> list[tuple[dict, str]]:
    """Bundles (facts, how they are written) that repeat, vary, fail and go missing."""
    out = []
    for i in range(24):
        facts = copy.deepcopy(template)
        facts["nvml"]["driver_version"] = f"535.{i % 3}.05"
        if i % 4 == 1:  # a prompt file with an undeclared placeholder, in a waived folder or not
            folder = "legacy" if i % 8 == 1 else "new"
            facts["prompts"]["undeclared"].append({"column": 3, "declared": False, "line": 2, "name": f"var{i % 2}",
                                                   "path": f"prompts/{folder}/p.txt", "syntax": "jinja2"})
        if i % 6 == 2:
            facts["_errors"] = {"runtime": f"runtime provider timed out after {i % 4}s"}
            del facts["runtime"]
        if i % 6 == 3:
            del facts["env"]  # missing, no error: the rules reading it say so
        text = json.dumps(facts, indent=2 if i % 5 == 4 else None)  # same facts, other text: no reuse, same results
        out.append((facts, text))
    return out


@pytest.fixture()
def bundles(tmp_path, template) -> list[Path]:
    paths = []
    for i, (_, text) in enumerate(variants(template)):
        path = tmp_path / f"node-{i:03d}.json"
        path.write_text(text)
        paths.append(path)
    return paths


@pytest.fixture()
def plans(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO / "policies.example")
    config = tmp_path / "wfgy.yaml"
    config.write_text((REPO / "policies.example" / "wfgy.yaml").read_text().replace("./policies", str(REPO / "policies.example" / "policies"))
                      + WAIVER)
    session = open_session(str(config), announce=False)
    return (Plan.of(session.config, session.rules, session.all_rules),
            Plan.of(session.config, session.rules, session.all_rules))


def test_remembered_verdicts_give_the_results_of_judging_afresh(bundles, plans):
    remembering, afresh = plans
    statuses = set()
    for path in bundles * 2:  # the second pass is all remembered
        judged = remembering.judge(read_bundle(path, sections=True))
        expected = afresh.judge(read_bundle(path))
        assert judged.results == expected.results
        assert [r.subject for r in judged.results] == [r.subject for r in expected.results]
        assert judged.counts() == expected.counts() and judged.blocking == expected.blocking
        statuses |= {r.status for r in judged.results}
    assert {Status.pass_, Status.fail, Status.error, Status.skip, Status.waived} <= statuses
    assert len(afresh.verdicts) == 0  # bundles without section texts are never remembered


def test_a_bundle_seen_before_evaluates_no_rule(bundles, plans, monkeypatch):
    remembering, _ = plans
    first = remembering.judge(read_bundle(bundles[0], sections=True))
    evaluated = []
    real = fleet_module.evaluate_within
    monkeypatch.setattr(fleet_module, "evaluate_within", lambda *args: evaluated.append(args[0].id) or real(*args))
    again = remembering.judge(read_bundle(bundles[0], sections=True))
    assert evaluated == []
    assert all(a is b for a, b in zip(first.verdicts, again.verdicts))
    # another driver version: only the rules that read nvml are evaluated again
    remembering.judge(read_bundle(bundles[1], sections=True))
    nvml_rules = {rule.id for rule in remembering.rules if "nvml" in rule.facts}
    assert nvml_rules and set(evaluated) <= nvml_rules | {rule.id for rule in remembering.rules if "prompts" in rule.facts}
    assert nvml_rules <= set(evaluated)


def test_results_name_their_bundle_although_verdicts_are_shared(bundles, plans):
    remembering, _ = plans
    one = remembering.judge(read_bundle(bundles[0], sections=True))
    other = remembering.judge(read_bundle(bundles[3], sections=True))
    assert {r.target for r in one.results} == {"node-000.json"}
    assert {r.target for r in other.results} == {"node-003.json"}


def test_memory_is_bounded_oldest_first():
    verdicts = Verdicts(max_entries=3, max_text=100)
    for n in range(5):
        verdicts.put((0, f"text {n}"), ())
    assert len(verdicts) == 3
    assert verdicts.get((0, "text 0")) is None and verdicts.get((0, "text 4")) == ()
    verdicts.put((1, "x" * 101), ())  # larger than all the memory: not kept
    assert verdicts.get((1, "x" * 101)) is None
    verdicts.put((2, "y" * 90), ())  # 3 x 6 + 90 characters: the two oldest go to make room
    assert len(verdicts) == 2 and verdicts.get((0, "text 3")) is None and verdicts.get((0, "text 4")) == ()


def test_a_rule_stopped_by_its_time_budget_is_judged_again_next_time(bundles, plans, monkeypatch):
    remembering, _ = plans
    real = fleet_module.evaluate_within
    target = remembering.rules[0]

    def slow_once(rule, bundle, watch):
        if rule is target and not calls:
            calls.append(rule.id)
            return [Result(rule.id, rule.policy, rule.title, rule.severity, Status.error,
                           rule.remedy.action, "evaluation took longer than 10s (WFGY_RULE_TIMEOUT) and was stopped")]
        return real(rule, bundle, watch)

    calls: list[str] = []
    monkeypatch.setattr(fleet_module, "evaluate_within", slow_once)
    stopped = remembering.judge(read_bundle(bundles[0], sections=True))
    assert stopped.results[0].status is Status.error
    again = remembering.judge(read_bundle(bundles[0], sections=True))
    assert again.results[0].status is not Status.error
