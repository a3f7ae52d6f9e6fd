"""Remedies that only ``preflight`` applies (SPEC §6): ``block`` waits, ``fallback`` downgrades.

``block`` — the facts a rule needs are not there *yet* (a secret volume is mounted a few
seconds after the pod starts, Vault Agent renders ``/vault/secrets/<name>`` late)::

    remedy:
      action: block
      timeout: 2m        # default: secret_timeout in wfgy.yaml (90s)
      interval: 2s       # first re-check; then ×1.5 per round up to 10s (a longer interval stays)

Only the providers of the failing ``block`` rules are gathered again, and only those rules
are evaluated again, until they pass or their timeout runs out; a rule that never passes
stays failing, its message ending in ``did not pass within 90s``.

Only what can still arrive is waited for (`wfgy_rules.run.arrivals`): a ``block`` rule over
the process environment alone (``env``; ``secrets`` with no ``dir`` or ``dotenv`` source that
is there) fails at once, as a running process never sees its environment change. And when
the run has already failed on a result no wait can change (a failing ``abort`` rule, or such
a ``block`` rule), nothing is waited for, unless ``--force`` will start the command anyway.
Either way the result's message ends in why: ``not waited for: the run already failed
(team.max-len)``.

``fallback`` — the service can still start, in a degraded mode::

    remedy:
      action: fallback
      env: {CUDA_VISIBLE_DEVICES: ""}   # hide the GPUs: start on CPU

The variables are set in the environment of the started command (never after it started:
``CUDA_VISIBLE_DEVICES`` must be set before CUDA initialises) and written to ``--env-out``.

Waiting uses an injected clock and sleep, so it is tested without waiting.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from wfgy_rules.documents.atomic_write import write_atomic
from wfgy_rules.errors import UsageError
from wfgy_rules.model import Bundle, Result, Rule
from wfgy_rules.run.arrivals import cannot_arrive
from wfgy_rules.run.engine import evaluate_rule

MAX_INTERVAL = 10.0  # seconds between re-checks, after backing off
BACKOFF = 1.5
TICK = 1.0  # how often a terminal's countdown is redrawn
TERMINATION_LOG = "/dev/termination-log"
TERMINATION_LOG_LIMIT = 4096  # bytes; Kubernetes truncates the message there
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_failing_block(result: Result) -> bool:
    """A ``fail`` or ``error`` result of a ``block`` rule: what preflight waits for."""
    return result.action == "block" and result.status.failing


def hopeless_waits(rules: Sequence[Rule], results: list[Result], fails_run: Callable[[Result], bool],
                   settings: Mapping[str, Any], base_dir: Path, force: bool = False) -> tuple[list[Result], Callable[[Result], bool]]:
    """Leave out the ``block`` waits that cannot help: the results, each such rule's failing ones
    with ``; not waited for: WHY`` added to their message, and the test of what is still worth
    waiting for (`wait_for_blocking`'s ``pending``).

    ``fails_run(result)``: the result would fail the run (blocking, not waived). A wait cannot
    help when nothing its rule reads can arrive (`wfgy_rules.run.arrivals`: ``settings`` are
    the providers' sections of wfgy.yaml, relative to ``base_dir``), or, unless ``force``,
    when the run already fails on a result that no wait can change.
    """
    by_id = {rule.id: rule for rule in rules}
    waiting = dict.fromkeys(r.rule_id for r in results if is_failing_block(r) and fails_run(r) and r.rule_id in by_id)
    reasons = {rule_id: why for rule_id in waiting if (why := cannot_arrive(by_id[rule_id], settings, base_dir))}
    settled = sorted({r.rule_id for r in results if fails_run(r) and (r.rule_id not in waiting or r.rule_id in reasons)})
    if settled and not force:
        for rule_id in waiting:
            reasons.setdefault(rule_id, f"the run already failed ({', '.join(settled)})")

    def pending(result: Result) -> bool:
        return is_failing_block(result) and fails_run(result) and result.rule_id not in reasons

    marked = [_not_waited(r, reasons[r.rule_id]) if r.rule_id in reasons and is_failing_block(r) and fails_run(r) else r
              for r in results]
    return marked, pending


class Progress:
    """What preflight is waiting for, on ``stream`` (stderr).

    On a terminal one line counts down in place:
    ``wfgy-rules: waiting for required secrets: missing secrets: OPENAI_API_KEY (87s left)``.
    Elsewhere (a pod's log) that line is written once per rule, when its wait starts, so the
    log says why the container is not up yet without repeating itself.
    """

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.live = hasattr(stream, "isatty") and stream.isatty()
        self._announced: set[str] = set()
        self._drawn = False

    def update(self, waiting: Sequence[tuple[Result, float]]) -> None:
        """Show each still failing result with the seconds its rule has left."""
        parts = [(r.rule_id, f"{r.title}: {r.message or 'not passing yet'} ({math.ceil(left)}s left)") for r, left in waiting]
        if self.live:
            self.stream.write("\r\033[Kwfgy-rules: waiting for " + " · ".join(text for _, text in parts))
            self._drawn = True
        else:
            for rule_id, text in parts:
                if rule_id not in self._announced:
                    self._announced.add(rule_id)
                    self.stream.write(f"wfgy-rules: waiting for {text}\n")
        self.stream.flush()

    def end(self) -> None:
        """Clear the countdown line (a terminal only)."""
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._drawn = False


@dataclass
class _Wait:
    """One ``block`` rule being waited for."""

    rule: Rule
    results: list[Result]
    timeout: float
    deadline: float
    interval: float
    next_check: float

    @property
    def due_at(self) -> float:
        return min(self.next_check, self.deadline)


def wait_for_blocking(
    rules: Sequence[Rule],
    results: list[Result],
    bundle: Bundle,
    regather: Callable[[list[str]], Bundle],
    *,
    default_timeout: float,
    pending: Callable[[Result], bool] = is_failing_block,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress | None = None,
) -> tuple[list[Result], Bundle]:
    """Wait until the ``block`` rules with a ``pending`` result pass, or their timeouts run out.

    ``regather(names)`` gathers those providers again. Returns every result (the waited-for
    rules' replaced by their last evaluation, in place) and the bundle with the re-gathered
    providers' facts, so the report's digest is over the facts that were judged. A rule that
    times out keeps its failing results, each message ending in ``did not pass within Ns``.
    Nothing is caught: Ctrl-C stops the wait like any other.
    """
    by_id = {rule.id: rule for rule in rules}
    ids = dict.fromkeys(r.rule_id for r in results if pending(r) and r.rule_id in by_id)
    if not ids:
        return results, bundle
    start = clock()
    waits: dict[str, _Wait] = {}
    for rule_id in ids:
        remedy = by_id[rule_id].remedy
        timeout = default_timeout if remedy.timeout is None else remedy.timeout
        current = [r for r in results if r.rule_id == rule_id]
        waits[rule_id] = _Wait(by_id[rule_id], current, timeout, start + timeout, remedy.interval, start + remedy.interval)
    open_waits = list(waits.values())
    try:
        while open_waits:
            _pause(min(w.due_at for w in open_waits), open_waits, pending, clock, sleep, progress)
            now = clock()
            due = [w for w in open_waits if w.due_at <= now]
            fresh = regather(sorted({name for w in due for name in w.rule.facts}))
            bundle = _merge(bundle, fresh)
            for wait in due:
                wait.results = evaluate_rule(wait.rule, fresh)
                if not any(pending(r) for r in wait.results):
                    open_waits.remove(wait)
                elif now >= wait.deadline:
                    wait.results = [_timed_out(r, wait.timeout) if pending(r) else r for r in wait.results]
                    open_waits.remove(wait)
                else:
                    wait.interval = max(wait.interval, min(wait.interval * BACKOFF, MAX_INTERVAL))
                    wait.next_check = now + wait.interval
    finally:
        if progress is not None:
            progress.end()
    return _replace_results(results, {rule_id: w.results for rule_id, w in waits.items()}), bundle


def _pause(until: float, waits: list[_Wait], pending: Callable[[Result], bool], clock: Callable[[], float],
           sleep: Callable[[float], None], progress: Progress | None) -> None:
    """Sleep until ``until`` (never past it), redrawing the countdown on a terminal."""
    while (left := until - clock()) > 0:
        if progress is not None:
            now = clock()
            progress.update([(r, max(0.0, w.deadline - now)) for w in waits for r in w.results if pending(r)])
        sleep(min(left, TICK) if progress is not None and progress.live else left)


def _merge(old: Bundle, fresh: Bundle) -> Bundle:
    """``old`` with the providers in ``fresh`` replaced by their new facts (or errors)."""
    renewed = fresh.facts.keys() | fresh.errors.keys()
    facts = {k: v for k, v in old.facts.items() if k not in renewed} | fresh.facts
    errors = {k: v for k, v in old.errors.items() if k not in renewed} | fresh.errors
    return Bundle(facts, errors, old.target)


def _not_waited(result: Result, reason: str) -> Result:
    return replace(result, message=f"{result.message or result.title}; not waited for: {reason}")


def _timed_out(result: Result, timeout: float) -> Result:
    message = result.message or result.title
    return replace(result, message=f"{message}; did not pass within {timeout:g}s")


def _replace_results(results: list[Result], replaced: Mapping[str, list[Result]]) -> list[Result]:
    """``results`` with each waited-for rule's results swapped for its new ones, in place."""
    out: list[Result] = []
    for result in results:
        if result.rule_id not in replaced:
            out.append(result)
        elif not any(r.rule_id == result.rule_id for r in out):
            out.extend(replaced[result.rule_id])
    return out


def fallbacks(results: Sequence[Result], rules: Sequence[Rule]) -> list[tuple[Result, dict[str, str]]]:
    """Each ``fail``/``error`` result of a ``fallback`` rule (waived ones are not) with its ``remedy.env``."""
    remedies = {rule.id: rule.remedy for rule in rules}
    return [
        (r, dict(remedies[r.rule_id].env))
        for r in results
        if r.action == "fallback" and r.status.failing and r.rule_id in remedies
    ]


def fallback_env(results: Sequence[Result], rules: Sequence[Rule]) -> dict[str, str]:
    """The variables every applicable fallback sets, merged in report order (a later rule wins)."""
    env: dict[str, str] = {}
    for _, rule_env in fallbacks(results, rules):
        env.update(rule_env)
    return env


def dotenv_text(env: Mapping[str, str]) -> str:
    """``NAME="value"`` lines, quoted so that both a POSIX shell and dotenv loaders read them.

    Inside the double quotes ``\\ " $ ` `` are escaped with a backslash, so nothing is
    expanded when the file is sourced (``set -a; . /shared/wfgy.env; set +a``).
    """
    lines = ["# Written by 'wfgy-rules preflight': the environment its fallbacks set.",
             "# Load it before starting the app: set -a; . ./this-file; set +a"]
    for name, value in sorted(env.items()):
        if not _ENV_NAME.match(name):
            raise UsageError(f"--env-out: {name!r} is not a valid environment variable name")
        escaped = re.sub(r'([\\"$`])', r"\\\1", value)
        lines.append(f'{name}="{escaped}"')
    return "\n".join(lines) + "\n"


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """Write ``env`` as a dotenv file (`write_atomic`); a new file is readable by an app running
    as another user (0644), an existing one keeps its permissions.

    It holds only fallback values from policies, never a secret. An empty ``env`` still
    writes the file, so ``. /shared/wfgy.env`` works on every start.
    """
    write_atomic(path, dotenv_text(env), mode=0o644)


def write_termination_log(reason: str, path: str | None = None) -> bool:
    """Leave ``reason`` where Kubernetes shows it in ``kubectl describe pod``; never raises.

    The path is ``path``, else ``$WFGY_TERMINATION_LOG``, else ``/dev/termination-log``, and
    it must already exist (Kubernetes creates it; elsewhere nothing is written). It is written
    in place, never through a symlink: Kubernetes bind-mounts it, so no rename could replace
    it. The reason becomes one paragraph, cut to the 4096 bytes Kubernetes keeps. True when
    written.
    """
    target = Path(path or os.environ.get("WFGY_TERMINATION_LOG") or TERMINATION_LOG)
    text = " ".join(reason.split())
    text = text.encode("utf-8", "backslashreplace")[:TERMINATION_LOG_LIMIT].decode("utf-8", "ignore")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # missing (not in Kubernetes), a symlink, or not writable
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(text)
    except OSError:
        return False
    return True
