"""``wfgy-rules eval``: the CI gate. Gather (or read) facts, judge them, report, exit 0/1/2/3."""

from __future__ import annotations

from wfgy_rules.reporters import Report
from wfgy_rules.reporters.emit import check_color, check_format, emit, parse_reports
from wfgy_rules.reporters.locations import check_root
from wfgy_rules.run.session import RunOptions, collect_facts, judge, open_session


def run(options: RunOptions, color: str = "auto", root: str | None = None) -> int:
    """``color``: ``--color auto|always|never``; ``root``: ``--root``, the repository root report paths are relative to."""
    check_format(options.format)
    check_color(color)
    root_dir = check_root(root)
    extra = parse_reports(options.reports)
    session = open_session(options.config, options.policies, options.fail_on, options.only, options.skip)
    bundles = collect_facts(session, options.facts)
    outcome, facts_digest = judge(session, bundles, options.force)
    report = Report(outcome, session.rules, session.policy_set.digest, facts_digest, config=session.config, root=root_dir)
    emit(report, options.format, options.output, extra, color=color)
    return outcome.exit_code

