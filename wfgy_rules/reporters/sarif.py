"""``--format sarif``: SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps).

``tool.driver.rules`` holds one entry per loaded rule, with its help (the remedy's hint) and
a default level; ``results`` holds every ``fail``, ``error`` and ``waived`` result. Upload it
from a workflow::

    - run: wfgy-rules eval --report sarif=wfgy-rules.sarif
    - uses: github/codeql-action/upload-sarif@v3
      if: always()
      with: {sarif_file: wfgy-rules.sarif}

Levels come from severity, and this module is the only place that maps them:
``critical``/``high`` → ``error``, ``medium``/``low`` → ``warning``, ``info`` → ``note``;
an ``error`` result (the rule could not be evaluated) is always ``error``. Each rule also
carries ``security-severity`` (critical 9.5, high 8.0, medium 5.5, low 3.0, info 0.0),
which GitHub shows as a severity for rules tagged ``security``.

A result points where the finding is: the ``path``/``line``/``column`` of its ``for_each``
element when it has one, else the rule in its policy file (nowhere, for the packs shipped
with the tool). Paths are relative to the current directory, so run from the repository
root. A waived result is kept with an external suppression that states the waiver's reason,
so code scanning shows it as dismissed rather than fixed.

``partialFingerprints["wfgyRuleLocation/v1"]`` is a sha256 over the rule id, the path and
line pointed at, the ``--facts DIR`` target and the ``for_each`` index: rewording a message
keeps an alert's identity; moving it to another line or file does not.

Output is byte-identical for the same inputs: fixed key order, no clock, no host name.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wfgy_rules.model import Result, Rule, Severity, SourceLocation, Status
from wfgy_rules.reporters import Report, locate

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/wfgy-rules/wfgy-rules"
FINGERPRINT = "wfgyRuleLocation/v1"

LEVELS = {
    Severity.critical: "error",
    Severity.high: "error",
    Severity.medium: "warning",
    Severity.low: "warning",
    Severity.info: "note",
}
SECURITY_SEVERITY = {
    Severity.critical: "9.5",
    Severity.high: "8.0",
    Severity.medium: "5.5",
    Severity.low: "3.0",
    Severity.info: "0.0",
}
_REPORTED = (Status.fail, Status.error, Status.waived)


def render(report: Report, color: bool = False) -> str:
    descriptors, index = _descriptors(report)
    rules = {rule.id: rule for rule in report.rules}
    results = [_result(r, rules.get(r.rule_id), index[r.rule_id]) for r in report.outcome.results if r.status in _REPORTED]
    outcome = report.outcome
    sarif = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "wfgy-rules",
                        "version": report.tool_version,
                        "informationUri": INFORMATION_URI,
                        "rules": descriptors,
                    }
                },
                "results": results,
                "properties": {
                    "outcome": "fail" if outcome.failed and not outcome.forced else "pass",
                    "forced": outcome.forced,
                    "fail_on": outcome.fail_on.name,
                    "policy_digest": report.policy_digest,
                    "facts_digest": report.facts_digest,
                },
            }
        ],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False) + "\n"


def _descriptors(report: Report) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """``reportingDescriptor``s: every loaded rule, then any rule id only a result names
    (the tool's own warnings, e.g. ``wfgy.waiver-expired``); and each id's index."""
    descriptors = [_descriptor(rule.id, rule.title, rule.description, rule.remedy.hint, rule.severity, (rule.policy, *rule.tags)) for rule in report.rules]
    index = {rule.id: i for i, rule in enumerate(report.rules)}
    for result in report.outcome.results:
        if result.status in _REPORTED and result.rule_id not in index:
            index[result.rule_id] = len(descriptors)
            descriptors.append(_descriptor(result.rule_id, result.title, "", result.hint, result.severity, (result.policy,)))
    return descriptors, index


def _descriptor(rule_id: str, title: str, description: str, hint: str, severity: Severity, tags: tuple[str, ...]) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": title,
        "shortDescription": {"text": title},
        "fullDescription": {"text": " ".join(description.split()) or title},
        "help": {"text": hint or title},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {
            "tags": list(dict.fromkeys(tags)),
            "security-severity": SECURITY_SEVERITY[severity],
        },
    }


def _result(result: Result, rule: Rule | None, rule_index: int) -> dict[str, Any]:
    where = locate(result, rule)
    text = result.message or result.title
    data: dict[str, Any] = {
        "ruleId": result.rule_id,
        "ruleIndex": rule_index,
        "level": "error" if result.status is Status.error else LEVELS[result.severity],
        "message": {"text": f"{result.target}: {text}" if result.target else text},
    }
    if where is not None:
        data["locations"] = [{"physicalLocation": _physical(where)}]
    data["partialFingerprints"] = {FINGERPRINT: _fingerprint(result, rule, where)}
    if result.status is Status.waived:
        data["suppressions"] = [{"kind": "external", "justification": (result.waiver or {}).get("reason", "")}]
    properties: dict[str, Any] = {"status": result.status.value, "action": result.action, "blocking": result.blocking}
    if result.target is not None:
        properties["target"] = result.target
    if result.evidence:
        properties["evidence"] = [e.to_json() for e in result.evidence]
    data["properties"] = properties
    return data


def _physical(where: SourceLocation) -> dict[str, Any]:
    uri = Path(where.path).as_uri() if Path(where.path).is_absolute() else quote(os.fsencode(where.path), safe="/")
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    region = {key: value for key, value in (("startLine", where.line), ("startColumn", where.column)) if value is not None}
    if "startLine" in region:
        physical["region"] = region
    return physical


def _fingerprint(result: Result, rule: Rule | None, where: SourceLocation | None) -> str:
    if where is None:  # a builtin rule: its shown path (``builtin:…``) is stable too
        where = result.location or (rule.location if rule else SourceLocation(""))
    key = json.dumps([result.rule_id, where.path, where.line, result.target, result.index])
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
