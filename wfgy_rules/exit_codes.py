"""The exit codes of every command, in one place (SPEC §7).

``cli.main`` maps outcomes and exceptions to them; ``preflight`` adds the two a shell gives
for a command it cannot start.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    PASSED = 0  # the run passed, or was forced
    FAILED = 1  # a blocking result failed the run
    INVALID_INPUT = 2  # usage, config, policy or facts file
    INTERNAL_ERROR = 3  # a bug: anything that is not a WfgyError
    CANNOT_RUN = 126  # preflight: CMD was found but is not runnable
    NOT_FOUND = 127  # preflight: CMD was not found
    INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + 2
    TERMINATED = 143  # SIGTERM (Kubernetes, CI cancellation): 128 + 15


SUMMARY = (
    f"Exit codes: {ExitCode.PASSED} passed (or forced) · {ExitCode.FAILED} the run failed · "
    f"{ExitCode.INVALID_INPUT} invalid input · {ExitCode.INTERNAL_ERROR} internal error · {ExitCode.INTERRUPTED} interrupted · "
    f"{ExitCode.TERMINATED} terminated (SIGTERM)."
)
