"""What every judging command shares: the session (the config, the loaded policies, the rules
of this run with overrides applied and ``--only``/``--skip`` honoured, the providers they
need, ``--stage`` applied), the facts to judge (read from ``--facts`` or gathered now), and the judging itself
(engine → waivers → outcome, SPEC §6)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from wfgy_rules.documents.fact_bundles import read_bundles, read_fleet_bundle
from wfgy_rules.errors import Problem, UsageError
from wfgy_rules.gc_pause import paused
from wfgy_rules.model import Bundle, Result, Rule, Severity, Status
from wfgy_rules.policy.loader import PolicySet, load_policies
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.run.config import Config, load_config, locate_config
from wfgy_rules.run.fleet import Plan, Tally
from wfgy_rules.run.gather import gather
from wfgy_rules.run.outcome import Outcome, decide
from wfgy_rules.run.rebase import rebase
from wfgy_rules.run.rule_selection import apply_config, select
from wfgy_rules.run.waivers import apply_waivers


@dataclass
class RunOptions:
    """The options ``eval`` and ``preflight`` share, as the CLI parsed them."""

    config: str | None = None
    policies: list[str] = field(default_factory=list)
    facts: str | None = None
    format: str = "text"
    output: str | None = None
    reports: list[str] = field(default_factory=list)  # FORMAT=FILE
    fail_on: str | None = None
    only: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    force: bool = False
    stage: str | None = None  # ci, deploy or all; None: the command's default (eval all, preflight deploy)
    jobs: int | None = None  # eval --jobs: worker processes for --facts DIR (None: the CPUs this process may use)
    shard: str | None = None  # eval --shard I/N
    defaults: bool = False  # --defaults: no config read, the built-in packs (or --policy) with default settings
    verbosity: str = "default"  # the text report: quiet (-q), default or verbose (-v)


@dataclass(frozen=True)
class Session:
    config: Config
    policy_set: PolicySet
    rules: tuple[Rule, ...]  # the rules of this run
    all_rules: tuple[Rule, ...]  # every loaded rule, overrides applied
    stage: str = "all"  # the --stage selection the rules were chosen by

    @property
    def providers(self) -> list[str]:
        """The providers the selected rules read: only these are gathered."""
        return sorted({name for rule in self.rules for name in rule.facts})


def open_session(config_path: str | None = None, policies: list[str] | None = None, fail_on: str | None = None,
                 only: list[str] | None = None, skip: list[str] | None = None, stage: str = "all",
                 announce: bool = True, gate: bool = False, defaults: bool = False) -> Session:
    """Load everything a run needs; `WfgyError` (exit 2) on any invalid input.

    Without ``config_path`` the config is discovered (`wfgy_rules.run.config.locate_config`)
    and, when ``announce``, one line on stderr says which one (or that none was found). A
    ``gate`` (``eval``, ``preflight``) that finds none, with no ``policies``, exits 2 unless
    ``defaults`` (``--defaults``) asks for the built-in packs with default settings."""
    located = locate_config(config_path, defaults=defaults)
    if gate and located.refusal and not policies and not defaults:
        raise UsageError(located.refusal)
    if announce and located.note:
        print(located.note, file=sys.stderr)
    config = load_config(located.path)
    policy_base = Path.cwd() if policies else config.base_dir
    if policies:
        config = replace(config, policies=tuple(policies))
    if fail_on:
        if fail_on not in Severity.__members__:
            raise UsageError(f"--fail-on {fail_on!r} is not one of: {', '.join(Severity.__members__)}")
        config = replace(config, fail_on=Severity[fail_on])
    policy_set = load_policies(config.policies, policy_base)
    all_rules = apply_config(policy_set.rules, config)
    return Session(config, policy_set, tuple(select(all_rules, only, skip, stage)), tuple(all_rules), stage)


def collect_facts(session: Session, facts_path: str | None) -> Iterator[Bundle]:
    """The bundles to judge: read from ``--facts`` (file or directory), or gathered now."""
    if facts_path:
        path = Path(facts_path)
        if not path.exists():
            raise UsageError(f"{facts_path}: no such file or directory", [Problem(facts_path, "no such file or directory")])
        return read_bundles(path)
    return iter([gather_now(session, session.providers)])


def gather_now(session: Session, names: list[str], command: list[str] | None = None) -> Bundle:
    """Run the named providers now, with the session's provider settings and this process's env;
    ``command`` is what ``preflight`` will start (the ``serving`` provider reads its launch)."""
    ctx = ProviderContext(base_dir=session.config.base_dir, environ=dict(os.environ), secret_names=session.config.secret_names,
                          command=tuple(command) if command else None, settings=session.config.providers)
    return gather(names, session.config.providers, ctx, session.config.provider_timeouts)


def judge(session: Session, bundles: Iterable[Bundle], force: bool, today: date | None = None) -> tuple[Outcome, str]:
    """Evaluate the session's rules over each bundle, apply waivers; the outcome and the facts
    digest (`wfgy_rules.run.fleet`: one bundle's digest, or the fleet's over its lines)."""
    plan = Plan.of(session.config, session.rules, session.all_rules, today)
    tally = Tally()
    results: list[Result] = []
    with paused():
        for bundle in bundles:
            judged = plan.judge(bundle)
            tally.add(judged)
            results.extend(judged.results)
    return finish(plan, results, tally, force), tally.facts_digest


def judge_fleet(session: Session, files: list[str], force: bool, jobs: int = 1, today: date | None = None,
                read=None) -> tuple[Outcome, str, tuple[tuple[str | None, str], ...]]:
    """`judge` for the bundle files of ``--facts DIR`` (``--jobs`` worker processes): the
    outcome, the facts digest, and each bundle's (file name, digest). Holds every result."""
    from wfgy_rules.run.fleet import judged

    plan = Plan.of(session.config, session.rules, session.all_rules, today)
    tally = Tally(fleet=True)
    results: list[Result] = []
    bundles = []
    with paused(), closing(judged(plan, files, read or read_fleet_bundle, jobs)) as judged_bundles:
        for one in judged_bundles:
            tally.add(one)
            results.extend(one.results)
            bundles.append((one.target, one.digest))
    return finish(plan, results, tally, force), tally.facts_digest, tuple(bundles)


def finish(plan: Plan, results: list[Result], tally: Tally, force: bool) -> Outcome:
    """The outcome of judged results: the stale-waiver warnings added, report order (SPEC §6)."""
    ordered = sorted([*plan.warnings, *results], key=Result.sort_key)
    failed = tally.failed or any(r.blocking for r in plan.warnings)
    return Outcome(tuple(ordered), plan.fail_on, failed, forced=force and failed)


def check_judged(session: Session, outcome: Outcome) -> None:
    """`UsageError` (exit 2) when no rule of the run was judged: every one skipped. A gate
    that judged nothing has not passed (its report, written first, shows each skip's reason)."""
    ids = {rule.id for rule in session.rules}
    if not ids:
        raise UsageError("nothing was judged: --stage, --only and --skip left no rule to run, so it is not a pass")
    if not any(r.status is not Status.skip for r in outcome.results if r.rule_id in ids):
        raise UsageError(f"nothing was judged: all {len(ids)} rule(s) of this run skipped, so it is not a pass "
                         "(see why each skipped; check --stage, --only/--skip and the providers in wfgy.yaml)")


def conclude(session: Session, results: list[Result], force: bool, today: date | None = None) -> Outcome:
    """Apply the config's waivers to the results and decide the run (SPEC §6)."""
    results = rebase(results, session.config.base_dir)
    results = apply_waivers(results, session.config, session.all_rules, today or date.today())
    return decide(results, session.config.fail_on, force)
