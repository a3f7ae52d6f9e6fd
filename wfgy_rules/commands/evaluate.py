"""``wfgy-rules eval``: the CI gate. Gather (or read) facts, judge them, report, exit 0/1/2/3.

Every rule runs unless ``--stage ci|deploy`` selects (SPEC §11): the shipped workflow, action
and pre-commit hook pass ``--stage ci``, which leaves out the rules that need the deploy
target (secrets, env, GPU)."""

from __future__ import annotations

from pathlib import Path

from wfgy_rules.attest.request import Attestation, AttestOptions, model_card_file
from wfgy_rules.reporters import Report
from wfgy_rules.reporters.emit import check_color, check_format, emit, parse_reports
from wfgy_rules.reporters.locations import check_root
from wfgy_rules.run.session import RunOptions, collect_facts, judge, open_session


def run(options: RunOptions, color: str = "auto", root: str | None = None, attest: AttestOptions | None = None) -> int:
    """``color``: ``--color auto|always|never``; ``root``: ``--root``, the repository root report paths are relative to;
    ``attest``: ``--attest FILE`` and its options."""
    check_format(options.format)
    check_color(color)
    root_dir = check_root(root)
    extra = parse_reports(options.reports)
    attestation = Attestation(attest or AttestOptions())
    session = open_session(options.config, options.policies, options.fail_on, options.only, options.skip, options.stage or "all")
    bundles = collect_facts(session, options.facts)
    if attestation.path:
        bundles = attestation.watch(bundles)
    outcome, facts_digest = judge(session, bundles, options.force)
    report = Report(outcome, session.rules, session.policy_set.digest, facts_digest, config=session.config, root=root_dir, stage=session.stage)
    emit(report, options.format, options.output, extra, color=color)
    if attestation.path:
        attestation.write(report, model_card_file(session.config, gathered=not options.facts), _facts_name(options.facts))
    return outcome.exit_code


def _facts_name(facts: str | None) -> str:
    return Path(facts).name if facts else "facts.json"

