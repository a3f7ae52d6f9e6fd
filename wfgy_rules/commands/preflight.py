"""``wfgy-rules preflight [OPTIONS] [-- CMD ARGS…]``: the deploy gate.

The same run as ``eval`` (same options, same report), over the ``deploy`` and ``any`` rules
unless ``--stage`` says otherwise, with the remedies applied (SPEC §6):

1. gather the facts the rules need and evaluate them;
2. ``block`` rules that fail are re-checked until they pass or time out (not with ``--facts``:
   facts read from a file cannot change), when waiting can help: not for what the process
   environment alone holds, and not once the run has failed anyway (each such result's
   message says why it was not waited for; `wfgy_rules.run.remedies.hopeless_waits`);
3. waivers apply, the run is decided (``--force`` honoured);
4. a failed run writes its reason to the termination log (``/dev/termination-log``, or
   ``$WFGY_TERMINATION_LOG``) and exits 1 without starting anything;
5. otherwise the ``fallback`` rules that failed set their ``remedy.env``: logged on stderr,
   written to ``--env-out FILE`` and put in the environment of CMD, which then *replaces*
   this process (``exec``): same PID, signals go straight to the app, its exit code is the
   container's.

The report goes to stderr unless ``--output`` says otherwise: stdout belongs to the app.
CMD not found exits 127, found but not runnable exits 126 (as shells do).
With no ``wfgy.yaml`` found and no ``--policy`` nothing is started: exit 2 unless
``--defaults``; a run in which every rule skipped exits 2 ("nothing was judged") as well.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from wfgy_rules.attest.request import Attestation, AttestOptions
from wfgy_rules.errors import UsageError, WfgyError
from wfgy_rules.exit_codes import ExitCode
from wfgy_rules.model import Result, Rule, Status
from wfgy_rules.reporters import Report
from wfgy_rules.reporters.emit import check_color, check_format, emit, parse_reports
from wfgy_rules.reporters.locations import check_root
from wfgy_rules.run.engine import evaluate
from wfgy_rules.run.outcome import Outcome, is_blocking
from wfgy_rules.run.remedies import (
    Progress,
    fallback_env,
    fallbacks,
    hopeless_waits,
    wait_for_blocking,
    write_env_file,
    write_termination_log,
)
from wfgy_rules.run.session import (
    RunOptions,
    Session,
    check_judged,
    collect_facts,
    conclude,
    gather_now,
    open_session,
)
from wfgy_rules.run.waivers import apply_waivers


def run(options: RunOptions, env_out: str | None, command: list[str], color: str = "auto", root: str | None = None,
        attest: AttestOptions | None = None) -> int:
    """Judge, remedy, then exec ``command`` (or return the exit code when nothing is started).

    ``color`` and ``root`` are ``--color`` and ``--root``, as for ``eval``; ``attest`` is ``--attest FILE`` and its options."""
    try:
        return _run(options, env_out, command, color, root, Attestation(attest or AttestOptions()))
    except WfgyError as exc:  # exit 2: kubectl describe shows why the init container failed
        write_termination_log("wfgy-rules preflight: invalid input: " + " | ".join(exc.lines()))
        raise


def _run(options: RunOptions, env_out: str | None, command: list[str], color: str = "auto", root: str | None = None,
         attestation: Attestation | None = None) -> int:
    attestation = attestation or Attestation(AttestOptions())
    if env_out is not None and env_out.startswith("-"):
        raise UsageError(f"--env-out expects a FILE, got {env_out!r} (write: preflight --env-out FILE -- CMD)")
    check_format(options.format)
    check_color(color)
    root_dir = check_root(root)
    extra = parse_reports(options.reports)
    session = open_session(options.config, options.policies, options.fail_on, options.only, options.skip, options.stage or "deploy",
                           gate=True, defaults=options.defaults)
    today = date.today()
    rules = list(session.rules)
    if options.facts:
        if Path(options.facts).is_dir():
            raise UsageError(f"--facts {options.facts}: preflight judges one fact bundle; judge a directory with 'wfgy-rules eval --facts DIR'")
        bundle = next(collect_facts(session, options.facts))
        results = evaluate(rules, bundle)
    else:
        bundle = gather_now(session, session.providers, command)
        results, pending = hopeless_waits(rules, evaluate(rules, bundle), _fails_run(session, today), session.config.providers,
                                          session.config.base_dir, force=options.force)
        results, bundle = wait_for_blocking(
            rules, results, bundle, lambda names: gather_now(session, names, command),
            default_timeout=session.config.secret_timeout, pending=pending, progress=Progress(sys.stderr),
        )
    outcome = conclude(session, results, options.force, today)
    proceed = outcome.exit_code == 0
    env = fallback_env(outcome.results, rules) if proceed else {}
    report = Report(outcome, session.rules, session.policy_set.digest, bundle.digest, mode="preflight", fallback_env=env,
                    config=session.config, root=root_dir, stage=session.stage, verbosity=options.verbosity)
    emit(report, options.format, options.output, extra, stream=sys.stderr, color=color)
    check_judged(session, outcome)
    if attestation.path:  # before exec: the verdict is on disk before the service starts
        attestation.first = bundle
        attestation.write(report, options, session.config)
    if not proceed:
        write_termination_log(failure_reason(outcome))
        return outcome.exit_code
    _log_fallbacks(outcome.results, rules, command, env_out)
    if env_out:
        write_env_file(Path(env_out), env)
    return start(command, env) if command else outcome.exit_code


def _fails_run(session: Session, today: date) -> Callable[[Result], bool]:
    """Whether a result would fail the run: blocking (severity ≥ fail_on) and covered by no
    active waiver."""

    def fails(result: Result) -> bool:
        if not is_blocking(result, session.config.fail_on):
            return False
        return apply_waivers([result], session.config, session.all_rules, today)[0].status is not Status.waived

    return fails


def failure_reason(outcome: Outcome) -> str:
    """One paragraph for the termination log: every blocking result's rule id and message."""
    parts = [f"{r.rule_id}: {r.message or r.title}" for r in outcome.results if r.blocking]
    return f"wfgy-rules preflight failed ({len(parts)} blocking): " + " | ".join(parts)


def _log_fallbacks(results: Sequence[Result], rules: Sequence[Rule], command: list[str], env_out: str | None) -> None:
    """``wfgy-rules: fallback: cuda.gpu-present failed → CUDA_VISIBLE_DEVICES='' for the started command``."""
    places = (["for the started command"] if command else []) + ([f"in {env_out}"] if env_out else [])
    where = " and ".join(places) or "(no command to start, no --env-out)"
    logged = set()
    for result, env in fallbacks(results, rules):
        if result.rule_id in logged or not env:
            continue
        logged.add(result.rule_id)
        verb = "failed" if result.status is Status.fail else "errored"
        settings = ", ".join(f"{name}={value!r}" for name, value in sorted(env.items()))
        print(f"wfgy-rules: fallback: {result.rule_id} {verb} → {settings} {where}", file=sys.stderr)


def start(command: list[str], env: dict[str, str]) -> int:
    """Replace this process with ``command`` (``PATH`` searched), ``env`` added to its environment.

    Returns only when it cannot start: 127 when it is not found, 126 when it is not runnable,
    after one line on stderr.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, {**os.environ, **env})
    except OSError as exc:
        print(f"wfgy-rules: cannot run {command[0]!r}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.NOT_FOUND if isinstance(exc, FileNotFoundError) else ExitCode.CANNOT_RUN
