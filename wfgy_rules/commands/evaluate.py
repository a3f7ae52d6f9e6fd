"""``wfgy-rules eval``: the CI gate. Gather (or read) facts, judge them, report, exit 0/1/2/3."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TextIO

from wfgy_rules.documents.atomic_write import write_atomic
from wfgy_rules.documents.fact_bundles import read_bundles
from wfgy_rules.errors import Problem, UsageError
from wfgy_rules.gc_pause import paused
from wfgy_rules.model import Bundle, Result
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.reporters import FORMATS, Report, render
from wfgy_rules.run.engine import evaluate
from wfgy_rules.run.gather import gather
from wfgy_rules.run.outcome import Outcome, decide
from wfgy_rules.run.session import Session, open_session
from wfgy_rules.run.waivers import apply_waivers


@dataclass
class EvalOptions:
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


def parse_reports(specs: list[str]) -> list[tuple[str, Path]]:
    """``--report sarif=out.sarif`` → (format, path); exit 2 on a malformed or unknown format."""
    parsed = []
    for spec in specs:
        fmt, sep, path = spec.partition("=")
        if not sep or not path:
            raise UsageError(f"--report {spec!r}: expected FORMAT=FILE, e.g. json=report.json")
        check_format(fmt, "--report")
        parsed.append((fmt, Path(path)))
    return parsed


def check_format(fmt: str, option: str = "--format") -> None:
    if fmt not in FORMATS:
        raise UsageError(f"{option} {fmt!r} is not one of: {', '.join(FORMATS)}")


def judge(session: Session, bundles, force: bool, today: date | None = None) -> tuple[Outcome, str]:
    """Evaluate the session's rules over each bundle, apply waivers; the outcome and the facts digest."""
    rules = list(session.rules)
    results, digests = [], []
    with paused():
        for bundle in bundles:
            results.extend(evaluate(rules, bundle))
            digests.append(bundle.digest)
    if len(digests) == 1:
        facts_digest = digests[0]
    else:
        facts_digest = "sha256:" + hashlib.sha256("\n".join(digests).encode()).hexdigest()
    return conclude(session, results, force, today), facts_digest


def conclude(session: Session, results: list[Result], force: bool, today: date | None = None) -> Outcome:
    """Apply the config's waivers to the results and decide the run (SPEC §6)."""
    results = rebase(results, session.config.base_dir)
    results = apply_waivers(results, session.config, session.all_rules, today or date.today())
    return decide(results, session.config.fail_on, force)


def rebase(results: list[Result], base_dir: Path) -> list[Result]:
    """Locations are relative to the config's directory; reports show them relative to the
    working directory (``--config deploy/wfgy.yaml`` → ``deploy/prompts/a.txt``)."""
    cwd = Path.cwd().resolve()
    base = base_dir.resolve()
    if base == cwd:
        return results
    return [_rebased(r, base, cwd) if r.location and not Path(r.location.path).is_absolute() else r for r in results]


def _rebased(result: Result, base: Path, cwd: Path) -> Result:
    target = base / result.location.path
    shown = os.path.relpath(target, cwd) if target.is_relative_to(cwd) else target.as_posix()
    return replace(result, location=replace(result.location, path=Path(shown).as_posix()))


def collect_facts(session: Session, facts_path: str | None):
    """The bundles to judge: read from ``--facts`` (file or directory), or gathered now."""
    if facts_path:
        path = Path(facts_path)
        if not path.exists():
            raise UsageError(f"{facts_path}: no such file or directory", [Problem(facts_path, "no such file or directory")])
        return read_bundles(path)
    return iter([gather_now(session, session.providers)])


def gather_now(session: Session, names: list[str]) -> Bundle:
    """Run the named providers now, with the session's provider settings and this process's env."""
    ctx = ProviderContext(base_dir=session.config.base_dir, environ=dict(os.environ))
    return gather(names, session.config.providers, ctx)


def emit(report: Report, fmt: str, output: str | None, extra: list[tuple[str, Path]], stream: TextIO | None = None) -> None:
    """Write the main report (``stream``, stdout by default, or ``--output``) and every ``--report`` file."""
    for extra_fmt, path in extra:
        write_atomic(path, render(report, extra_fmt))
    if "github" in (fmt, *(f for f, _ in extra)):
        from wfgy_rules.reporters.github import append_step_summary

        append_step_summary(report)
    if output:
        write_atomic(Path(output), render(report, fmt))
    else:
        stream = stream or sys.stdout
        stream.write(render(report, fmt, color=use_color(stream)))
        stream.flush()


def use_color(stream) -> bool:
    """Colour only on a terminal, and never with ``NO_COLOR`` set."""
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def run(options: EvalOptions) -> int:
    check_format(options.format)
    extra = parse_reports(options.reports)
    session = open_session(options.config, options.policies, options.fail_on, options.only, options.skip)
    bundles = collect_facts(session, options.facts)
    outcome, facts_digest = judge(session, bundles, options.force)
    report = Report(outcome, session.rules, session.policy_set.digest, facts_digest)
    emit(report, options.format, options.output, extra)
    return outcome.exit_code

