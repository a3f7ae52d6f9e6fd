"""Policy tests (SPEC §9): cases of facts and the statuses rules must give on them.

::

    apiVersion: wfgy-rules/v1
    kind: PolicyTest
    policies: [../rules/semvers-diff.yaml]      # relative to this file; `builtin` works too
    config: {ignore_versions: [patch]}          # optional, same shape as wfgy.yaml
    cases:
      - name: tokenizer skew is caught
        facts: {model_card: {present: true, declared: {tokenizer_sha: ad4c1b9}}}
        # or: facts_file: fixtures/skew.json
        expect:
          semvers.tokenizer-sha: fail
          prompt.undeclared-placeholder: {status: fail, count: 2, message_contains: customer_name}

A rule's status in a case is the most severe of its results: error > fail > waived >
skip > pass (a ``for_each`` rule yields one result per failing element). A rule id under
``expect`` that no policy under test defines fails its case, naming the closest id
(``team.replica: no such rule in the policies under test (did you mean 'team.replicas'?)``).
Cases run in process against the same loader and engine as ``eval``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from wfgy_rules.documents.fact_bundles import read_bundle
from wfgy_rules.documents.schema import validate
from wfgy_rules.documents.yamlio import Document, load_file, subdocument
from wfgy_rules.errors import PolicyError, Problem, did_you_mean
from wfgy_rules.model import Bundle, Result, Rule, Status
from wfgy_rules.policy.loader import load_policies
from wfgy_rules.policy.subexpressions import step_lines
from wfgy_rules.run.config import Config, config_from_document
from wfgy_rules.run.engine import evaluate
from wfgy_rules.run.rule_selection import apply_config
from wfgy_rules.run.waivers import apply_waivers

_PRIORITY = [Status.error, Status.fail, Status.waived, Status.skip, Status.pass_]


@dataclass(frozen=True)
class CaseResult:
    file: str
    name: str
    failures: tuple[str, ...]  # one line per unmet expectation, with the rule's evidence

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class FileRun:
    path: str
    cases: list[CaseResult] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)


def discover(paths: list[str]) -> list[Path]:
    """Policy test files: ``*.test.yaml`` under each path (default: the current directory)
    and every YAML file under ``tests/policies/``; an explicitly named file is taken as is."""
    found: set[Path] = set()
    roots = [Path(p) for p in paths] or [Path(".")]
    for root in roots:
        if not root.exists():
            raise PolicyError("no such path", [Problem(root.as_posix(), "no such file or directory")])
        if not root.is_dir():  # named explicitly: taken as is (the reader refuses a device or FIFO)
            found.add(root)
            continue
        found.update(p for p in root.rglob("*.test.yaml") if ".venv" not in p.parts and p.is_file())
        found.update(p for p in root.rglob("*.yaml") if p.is_file() and "policies" in p.parts and "tests" in p.parts and ".venv" not in p.parts and _is_test(p))
    return sorted(found, key=lambda p: p.as_posix())


def _is_test(path: Path) -> bool:
    try:
        data = load_file(path).data
    except PolicyError:
        return True  # let run_file report it
    return isinstance(data, dict) and data.get("kind") == "PolicyTest"


def run_file(path: Path, today: date | None = None) -> FileRun:
    """Run every case of one test file; `PolicyError` (exit 2) when the file is invalid."""
    document = load_file(path, path.as_posix())
    problems = validate(document, "policy-test")
    if problems:
        raise PolicyError("invalid policy test", problems)
    base = path.resolve().parent
    policy_set = load_policies(document.data["policies"], base)
    run = FileRun(path.as_posix(), rules=policy_set.rules)
    shared = document.data.get("config", {})
    for index, case in enumerate(document.data["cases"]):
        config = _case_config(document, index, shared, case.get("config", {}), base)
        rules = apply_config(policy_set.rules, config)
        bundle = _case_facts(document, index, case, base)
        results = apply_waivers(evaluate(rules, bundle), config, rules, today or date.today())
        run.covered.update(case["expect"])
        run.cases.append(CaseResult(run.path, case["name"], tuple(_compare(case["expect"], results, rules))))
    return run


def _case_config(document: Document, index: int, shared: dict, own: dict, base: Path) -> Config:
    merged = {**shared, **own}
    prefix = ("cases", index, "config") if own else ("config",)
    return config_from_document(subdocument(document, prefix, merged), base, require_header=False)


def _case_facts(document: Document, index: int, case: dict, base: Path) -> Bundle:
    if "facts_file" in case:
        path = base / case["facts_file"]
        if path.suffix == ".json":
            return read_bundle(path, case["facts_file"])
        return Bundle(load_file(path, case["facts_file"]).data)
    if "facts" not in case:
        raise PolicyError("no facts", [document.problem(("cases", index), "a case needs facts or facts_file")])
    return Bundle(case["facts"])


def rule_status(results: list[Result]) -> Status:
    statuses = {r.status for r in results}
    return next(s for s in _PRIORITY if s in statuses)


def _compare(expect: dict[str, Any], results: list[Result], rules: list[Rule]) -> list[str]:
    by_rule: dict[str, list[Result]] = {}
    for result in results:
        by_rule.setdefault(result.rule_id, []).append(result)
    failures = []
    for rule_id, wanted in expect.items():
        spec = wanted if isinstance(wanted, dict) else {"status": wanted}
        got = by_rule.get(rule_id)
        if not got:
            failures.append(f"{rule_id}: no such rule in the policies under test{did_you_mean(rule_id, (rule.id for rule in rules))}")
            continue
        actual = rule_status(got)
        matching = [r for r in got if r.status.value == spec["status"]]
        if actual.value != spec["status"]:
            failures.append(f"{rule_id}: expected {spec['status']}, got {actual.value}{_details(got)}")
        elif "count" in spec and len(matching) != spec["count"]:
            failures.append(f"{rule_id}: expected {spec['count']} {spec['status']} result(s), got {len(matching)}{_details(got)}")
        elif "message_contains" in spec and not all(spec["message_contains"] in r.message for r in matching):
            failures.append(f"{rule_id}: expected every {spec['status']} message to contain {spec['message_contains']!r}{_details(got)}")
    return failures


def _details(results: list[Result]) -> str:
    lines = []
    for result in results:
        if result.message:
            lines.append(f"      {result.status.value}: {result.message}")
        for e in result.evidence:
            lines.append(f"        evidence: {e.key} {e.op} left={_short(e.left)} right={_short(e.right)}")
            lines.extend(step_lines(e.values, "          "))
    return ("\n" + "\n".join(lines)) if lines else ""


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 100 else text[:99] + "…"
