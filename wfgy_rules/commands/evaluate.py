"""``wfgy-rules eval``: the CI gate. Gather (or read) facts, judge them, report, exit 0/1/2/3.

Every rule runs unless ``--stage ci|deploy`` selects (SPEC §11): the shipped workflow, action
and pre-commit hook pass ``--stage ci``, which leaves out the rules that need the deploy
target (secrets, env, GPU).

With ``--facts DIR`` (a fleet, SPEC §11) the bundles are judged in ``--jobs`` worker
processes, only ``--shard I/N``'s of them when given; ``--format jsonl`` (with only ``jsonl``
beside it, and no ``--attest``) streams the report as bundles are judged, every other format
holds the run in memory and is written at the end.

A gate passes only on something judged: with no ``wfgy.yaml`` found and no ``--policy`` it
exits 2 ("no wfgy.yaml found here or above; run `wfgy-rules init`") unless ``--defaults``
asks for the built-in packs with default settings, and a run in which every rule skipped
exits 2 after its report ("nothing was judged")."""

from __future__ import annotations

from pathlib import Path

from wfgy_rules.attest.request import Attestation, AttestOptions
from wfgy_rules.errors import UsageError
from wfgy_rules.reporters import Report
from wfgy_rules.reporters.emit import check_color, check_format, emit, parse_reports
from wfgy_rules.reporters.locations import check_root
from wfgy_rules.run.session import (
    RunOptions,
    check_judged,
    collect_facts,
    judge,
    judge_fleet,
    open_session,
)


def run(options: RunOptions, color: str = "auto", root: str | None = None, attest: AttestOptions | None = None) -> int:
    """``color``: ``--color auto|always|never``; ``root``: ``--root``, the repository root report paths are relative to;
    ``attest``: ``--attest FILE`` and its options."""
    check_format(options.format)
    check_color(color)
    root_dir = check_root(root)
    extra = parse_reports(options.reports)
    attestation = Attestation(attest or AttestOptions())
    fleet = _fleet_options(options)
    session = open_session(options.config, options.policies, options.fail_on, options.only, options.skip, options.stage or "all",
                           gate=True, defaults=options.defaults)
    if fleet is not None:
        return _fleet(session, options, fleet, extra, color, root_dir, attestation)
    bundles = collect_facts(session, options.facts)
    if attestation.path:
        bundles = attestation.watch(bundles)
    outcome, facts_digest = judge(session, bundles, options.force)
    report = Report(outcome, session.rules, session.policy_set.digest, facts_digest, config=session.config, root=root_dir, stage=session.stage,
                    verbosity=options.verbosity)
    emit(report, options.format, options.output, extra, color=color)
    check_judged(session, outcome)
    if attestation.path:
        attestation.write(report, options, session.config)
    return outcome.exit_code


def _fleet_options(options: RunOptions):
    """(jobs, shard, bundle files) for ``--facts DIR``, None for one bundle; `UsageError` for
    ``--jobs``/``--shard`` that cannot apply."""
    from wfgy_rules.run.fleet import Shard, default_jobs

    if options.jobs is not None and options.jobs < 1:
        raise UsageError(f"--jobs {options.jobs}: expected 1 or more")
    shard = Shard.parse(options.shard) if options.shard else None
    if not (options.facts and Path(options.facts).is_dir()):
        if shard is not None:
            raise UsageError("--shard needs --facts DIR (a directory of bundles)")
        return None
    return options.jobs or default_jobs(), shard


def _fleet(session, options: RunOptions, fleet, extra, color: str, root_dir, attestation) -> int:
    from wfgy_rules.documents.fact_bundles import read_fleet_bundle
    from wfgy_rules.reporters import jsonl
    from wfgy_rules.reporters.stream import stream_fleet, streams
    from wfgy_rules.run.fleet import Plan, RunIdentity, fleet_listing

    jobs, shard = fleet
    listing = fleet_listing(Path(options.facts), shard)
    files = listing.files
    formats = [options.format, *(f for f, _ in extra)]
    if all(streams(f) for f in formats) and not attestation.path:
        plan = Plan.of(session.config, session.rules, session.all_rules)
        closing = jsonl.Closing(session.policy_set.digest, session.config.fail_on.name, stage=session.stage,
                                shard=str(shard) if shard else None,
                                run=RunIdentity.of(listing, session.config, options.only, options.skip, options.force) if shard else None)
        outputs = [Path(options.output) if options.output else None, *(path for _, path in extra)]
        failed, forced = stream_fleet(plan, files, read_fleet_bundle, jobs, options.force, closing, outputs)
        return 1 if failed and not forced else 0
    if shard is not None:
        raise UsageError("--shard writes one shard's part of a report for 'wfgy-rules merge': use --format jsonl "
                         "(and only jsonl; no --attest)")
    outcome, facts_digest, bundles = judge_fleet(session, files, options.force, jobs)
    report = Report(outcome, session.rules, session.policy_set.digest, facts_digest, config=session.config, root=root_dir,
                    stage=session.stage, bundles=bundles, verbosity=options.verbosity)
    emit(report, options.format, options.output, extra, color=color)
    check_judged(session, outcome)
    if attestation.path:
        attestation.write(report, options, session.config)
    return outcome.exit_code
