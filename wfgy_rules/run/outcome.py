"""decide(results, fail_on, force) → the verdict and the exit code (SPEC §6).

A result is *blocking* when its status is ``fail`` or ``error``, its action is ``abort`` or
``block``, and its severity is at least ``fail_on`` (``info`` never fails a run). The run
fails when any result is blocking. ``--force`` turns that failure into exit 0, records
``forced: true`` and lists every overridden result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from wfgy_rules.exit_codes import ExitCode
from wfgy_rules.model import BLOCKING_ACTIONS, Result, Severity, Status


@dataclass(frozen=True)
class Outcome:
    results: tuple[Result, ...]
    fail_on: Severity
    failed: bool
    forced: bool

    @property
    def verdict(self) -> str:
        """``fail`` or ``pass``: the run's outcome as every report states it (forced: ``pass``)."""
        return "fail" if self.failed and not self.forced else "pass"

    @property
    def exit_code(self) -> int:
        return ExitCode.FAILED if self.verdict == "fail" else ExitCode.PASSED

    @property
    def overridden(self) -> list[Result]:
        return [r for r in self.results if r.blocking] if self.forced else []

    @property
    def summary(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for result in self.results:
            counts[result.status.value] += 1
        return counts


def is_blocking(result: Result, fail_on: Severity) -> bool:
    return (
        result.status.failing
        and result.action in BLOCKING_ACTIONS
        and result.severity >= max(fail_on, Severity.low)
    )


def decide(results: list[Result], fail_on: Severity, force: bool) -> Outcome:
    """Mark blocking results, order them for the report, and say whether the run failed."""
    marked = sorted((_marked(r, fail_on) for r in results), key=Result.sort_key)
    failed = any(r.blocking for r in marked)
    return Outcome(tuple(marked), fail_on, failed, forced=force and failed)


def _marked(result: Result, fail_on: Severity) -> Result:
    blocking = is_blocking(result, fail_on)
    return result if result.blocking == blocking else replace(result, blocking=blocking)
