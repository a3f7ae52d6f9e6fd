"""Report formats: one module per format, each with ``render(report, color) -> str``.

Modules are imported only when their format is asked for; what several formats share (the
`Report`, a result as JSON, where a result points, the counts line) lives here, so importing
one format never imports another.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from wfgy_rules import __version__
from wfgy_rules.model import Result, Rule, SourceLocation
from wfgy_rules.run.outcome import Outcome
from wfgy_rules.shown_paths import shown_path

FORMATS = {
    "text": "wfgy_rules.reporters.text",
    "json": "wfgy_rules.reporters.json_report",
    "sarif": "wfgy_rules.reporters.sarif",
    "junit": "wfgy_rules.reporters.junit",
    "github": "wfgy_rules.reporters.github",
    "markdown": "wfgy_rules.reporters.markdown",
    "jsonl": "wfgy_rules.reporters.jsonl",
}


@dataclass(frozen=True)
class Report:
    """Everything a reporter may show about one run."""

    outcome: Outcome
    rules: tuple[Rule, ...]
    policy_digest: str
    facts_digest: str
    mode: str = "eval"  # or "preflight"
    fallback_env: dict[str, str] = field(default_factory=dict)
    tool_version: str = __version__
    stage: str = "all"  # the run's --stage selection: ci, deploy or all
    config: Any = field(default=None, compare=False)  # the run's `Config`: where results without a file point
    root: Path | None = None  # the repository root (``--root``); None: found from the working directory
    bundles: tuple[tuple[str | None, str], ...] = field(default=(), compare=False)  # (target, digest) of each bundle of a fleet
    verbosity: str = "default"  # the text report: quiet, default or verbose (`wfgy_rules.reporters.text`)

    @cached_property
    def locator(self):
        """Repository locations for this run's results (`wfgy_rules.reporters.locations`)."""
        from wfgy_rules.reporters.locations import Locator, repository_root

        base_dir = getattr(self.config, "base_dir", None) if getattr(self.config, "path", None) else None
        return Locator(self.root or repository_root(None, base_dir), self.config)


def render(report: Report, fmt: str, color: bool = False) -> str:
    """The report in format ``fmt`` (a key of `FORMATS`)."""
    return importlib.import_module(FORMATS[fmt]).render(report, color)


def result_json(result) -> dict[str, Any]:
    """A result as the report schema shapes it (shared by the machine-readable formats)."""
    data: dict[str, Any] = {
        "rule_id": result.rule_id,
        "policy": result.policy,
        "title": result.title,
        "severity": result.severity.name,
        "status": result.status.value,
        "action": result.action,
        "message": result.message,
        "hint": result.hint,
        "location": result.location.to_json() if result.location else None,
        "evidence": [e.to_json() for e in result.evidence],
        "waiver": result.waiver,
        "blocking": result.blocking,
        "stage": result.stage,
    }
    if result.index is not None:
        data["index"] = result.index
    if result.target is not None:
        data["target"] = result.target
    return data


def locate(result: Result, rule: Rule | None) -> SourceLocation | None:
    """Where a result points, with a repository-relative POSIX path; None when nowhere.

    The result's own location (a ``for_each`` element's ``path``/``line``/``column``) wins;
    otherwise the rule in its policy file, unless that file ships with the tool
    (``builtin:…``), which has no place in the user's repository.
    """
    where = result.location or (rule.location if rule else None)
    if where is None or where.path.startswith("builtin:"):
        return None
    return SourceLocation(shown_path(where.path), where.line, where.column)


_COUNTS = (("pass", "passed"), ("fail", "failed"), ("error", "errors"), ("skip", "skipped"), ("waived", "waived"))


def counts_line(outcome: Outcome) -> str:
    """``3 passed, 1 failed, 1 waived``: passed and failed always, the rest when not zero."""
    counts = outcome.summary
    return ", ".join(f"{counts[k]} {word}" for k, word in _COUNTS if counts[k] or k in ("pass", "fail"))
