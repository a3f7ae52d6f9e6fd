"""``wfgy-rules test [PATH…]``: run policy tests and end with ``N passed, M failed``.

Without a PATH the tests are found under the project's directory: that of ``--config``, else
of the nearest ``wfgy.yaml`` (from here up to the repository root, as every other command
finds it, with the same one line on stderr when it is not ``./wfgy.yaml``), else the
working directory. So ``wfgy-rules test`` in ``services/bot/`` runs the team's tests.

Exit 0 when every case passes (and, with ``--require-tests``, every rule under test is
covered by some case), 1 otherwise, 2 when a test file is invalid.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from wfgy_rules.errors import PolicyError, Problem
from wfgy_rules.run.config import locate_config
from wfgy_rules.run.policy_tests import discover, run_file


def run(paths: list[str], require_tests: bool, config: str | None = None) -> int:
    paths = paths or [_project_dir(config)]
    files = discover(paths)
    if not files:
        raise _no_tests(paths)
    runs = []
    problems = []
    for path in files:
        try:
            runs.append(run_file(path))
        except PolicyError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PolicyError("invalid policy tests", problems)
    passed = failed = 0
    out = sys.stdout
    for file_run in runs:
        for case in file_run.cases:
            if case.passed:
                passed += 1
                out.write(f"✔ {case.file} :: {case.name}\n")
            else:
                failed += 1
                out.write(f"✖ {case.file} :: {case.name}\n")
                for line in case.failures:
                    out.write(f"    {line}\n")
    rules = {rule.id: rule for file_run in runs for rule in file_run.rules}
    covered = set().union(*(r.covered for r in runs)) if runs else set()
    uncovered = sorted(set(rules) - covered)
    if uncovered:
        out.write(f"rules no case covers ({len(uncovered)}): {', '.join(uncovered)}\n")
    out.write(f"{passed} passed, {failed} failed\n")
    return 1 if failed or (require_tests and uncovered) else 0


def _project_dir(config: str | None) -> str:
    """The directory of the project's config (shown from here), else ``.``."""
    located = locate_config(config)
    if located.path is None:
        return "."
    if located.note:
        print(located.note, file=sys.stderr)
    return Path(os.path.relpath(located.path.absolute().parent)).as_posix()


def _no_tests(paths: list[str]) -> PolicyError:
    where = ", ".join(paths) or "."
    return PolicyError("no tests", [Problem(where, "no policy tests found (*.test.yaml, tests/policies/)")])
