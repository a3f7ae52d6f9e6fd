"""One verdict, one level: how loud a result is, the same in every format.

A result's level follows from its status and whether it fails the run (``blocking``, which
already folds in the remedy action, the severity and ``--fail-on``, SPEC §6); ``info``
severity is the quietest. Every format maps the level to its own words and nothing else::

    status          blocking  severity   level     sarif    github     junit             text  markdown
    fail | error    yes       any        error     error    ::error    <failure>/<error>  ✖     ❌
    fail | error    no        ≥ low      warning   warning  ::warning  passes, listed     ⚠     ⚠️
    fail | error    no        info       note      note     ::notice   passes, listed     ℹ     ℹ️
    waived          -         any        note      note, suppressed;  no annotation; <skipped>
    pass | skip     -         any        none      (not a SARIF result; no annotation; pass / <skipped>)

So a non-blocking ``fallback`` or ``warn`` result, or an ``abort`` rule below ``--fail-on``,
is a *warning* in SARIF, an ``::warning`` annotation and a passing JUnit test case (JUnit has
no warning; its text is in the suite's ``system-out``): it never turns a viewer red while the
gate lets the deploy through. A rule's default level (SARIF ``defaultConfiguration``) is the
level a failure of it would get under the run's ``--fail-on``.
"""

from __future__ import annotations

import enum

from wfgy_rules.model import Result, Rule, Severity, Status
from wfgy_rules.run.outcome import is_blocking


class Level(str, enum.Enum):
    error = "error"  # fails the run (unless --force)
    warning = "warning"  # failed, but lets the run through: warn, fallback, below --fail-on
    note = "note"  # informational: an info rule that failed, a waived finding
    none = "none"  # nothing to act on: passed or skipped


# (status, blocking, severity is info) → level; the one table every format reads.
TABLE: dict[tuple[Status, bool, bool], Level] = {
    **{(status, True, info): Level.error for status in (Status.fail, Status.error) for info in (False, True)},
    **{(status, False, False): Level.warning for status in (Status.fail, Status.error)},
    **{(status, False, True): Level.note for status in (Status.fail, Status.error)},
    **{(Status.waived, blocking, info): Level.note for blocking in (False, True) for info in (False, True)},
    **{(status, blocking, info): Level.none for status in (Status.pass_, Status.skip) for blocking in (False, True) for info in (False, True)},
}


def level(result: Result) -> Level:
    """The level of one result (see the table above)."""
    return TABLE[(result.status, result.blocking, result.severity is Severity.info)]


def default_level(rule: Rule | None, severity: Severity, fail_on: Severity, action: str = "abort") -> Level:
    """The level a failure of ``rule`` (or of a tool rule with ``severity``/``action``) gets
    under ``fail_on``: what SARIF calls the rule's default configuration."""
    if rule is not None:
        severity, action = rule.severity, rule.remedy.action
    failure = Result("", "", "", severity, Status.fail, action)
    return TABLE[(Status.fail, is_blocking(failure, fail_on), severity is Severity.info)]
