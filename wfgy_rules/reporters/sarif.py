"""``--format sarif``: SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps).

``tool.driver.rules`` holds one entry per loaded rule, with its help (the remedy's hint) and
a default level; ``results`` holds every ``fail``, ``error`` and ``waived`` result. Upload it
from a workflow::

    - run: wfgy-rules eval --report sarif=wfgy-rules.sarif
    - uses: github/codeql-action/upload-sarif@v3
      if: always()
      with: {sarif_file: wfgy-rules.sarif}

Levels come from `wfgy_rules.reporters.levels`, the table every format shares (one verdict,
one level): a result that fails the run is ``error``, one that does not (``warn``,
``fallback``, below ``--fail-on``) is ``warning``, an ``info`` rule's is ``note``; a rule's
default level is the level a failure of it would get. This module only spells the levels
SARIF's way. Each rule also carries ``security-severity`` (critical 9.5, high 8.0, medium
5.5, low 3.0, info 0.0), which GitHub shows as a severity for rules tagged ``security``, and
help: ``help.text``/``help.markdown`` from its description and remedy hint, ``helpUri``
the README section of its pack (``https://github.com/wfgy-rules/wfgy-rules#prompt-lint``), or
a team rule's first ``references`` URL.

Every result has a location, as GitHub code scanning requires (it refuses the whole file
otherwise): `wfgy_rules.reporters.locations` picks a place inside the repository, relative to
the repository root (``--root``, default the git top level), so the report is right whatever
directory the run started in. A waived result is kept with an external suppression that
states the waiver's reason, so code scanning shows it as dismissed rather than fixed.

``partialFingerprints["wfgyRuleLocation/v1"]`` is a sha256 over the rule id, the path and
line of the result's own place (a ``for_each`` element's, else the rule's in its policy
file), the ``--facts DIR`` target and the ``for_each`` index: rewording a message or editing
``wfgy.yaml`` keeps an alert's identity; moving the finding to another line or file does not.

Output is byte-identical for the same inputs: fixed key order, no clock, no host name.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any
from urllib.parse import quote

from wfgy_rules.model import Remedy, Result, Rule, Severity, SourceLocation, Status
from wfgy_rules.reporters import Report, escaping
from wfgy_rules.reporters.levels import Level, default_level, level
from wfgy_rules.reporters.locations import Locator

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/wfgy-rules/wfgy-rules"
FINGERPRINT = "wfgyRuleLocation/v1"

HELP_URIS = {  # README sections, stable anchors: one per shipped pack, one for the tool's own warnings
    "semvers-diff": f"{INFORMATION_URI}#semvers-diff",
    "boot-checkpoint": f"{INFORMATION_URI}#boot-checkpoint",
    "cuda-probe": f"{INFORMATION_URI}#cuda-probe",
    "prompt-lint": f"{INFORMATION_URI}#prompt-lint",
    "wfgy": f"{INFORMATION_URI}#waivers",
}
LEVELS = {Level.error: "error", Level.warning: "warning", Level.note: "note", Level.none: "none"}
SECURITY_SEVERITY = {
    Severity.critical: "9.5",
    Severity.high: "8.0",
    Severity.medium: "5.5",
    Severity.low: "3.0",
    Severity.info: "0.0",
}
_REPORTED = (Status.fail, Status.error, Status.waived)

UNENCODABLE = "wfgy-json-escape"  # a stream that cannot carry a character gets a JSON \u escape (reporters.emit)


def render(report: Report, color: bool = False) -> str:
    descriptors, index = _descriptors(report)
    rules = {rule.id: rule for rule in report.rules}
    locator = report.locator
    results = [_result(r, rules.get(r.rule_id), index[r.rule_id], locator) for r in report.outcome.results if r.status in _REPORTED]
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
                    "outcome": outcome.verdict,
                    "forced": outcome.forced,
                    "fail_on": outcome.fail_on.name,
                    "policy_digest": report.policy_digest,
                    "facts_digest": report.facts_digest,
                },
            }
        ],
    }
    return escaping.json(json.dumps(sarif, indent=2, ensure_ascii=False)) + "\n"


def _descriptors(report: Report) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """``reportingDescriptor``s: every loaded rule, then any rule id only a result names
    (the tool's own warnings, e.g. ``wfgy.waiver-expired``); and each id's index."""
    fail_on = report.outcome.fail_on
    descriptors = [
        _descriptor(rule.id, rule.title, rule.description, rule.remedy, rule.severity, (rule.policy, *rule.tags),
                    default_level(rule, rule.severity, fail_on), _help_uri(rule.policy, rule.policy_path, rule.references))
        for rule in report.rules
    ]
    index = {rule.id: i for i, rule in enumerate(report.rules)}
    for result in report.outcome.results:
        if result.status in _REPORTED and result.rule_id not in index:
            index[result.rule_id] = len(descriptors)
            remedy = Remedy(result.action, result.hint)
            descriptors.append(_descriptor(result.rule_id, result.title, "", remedy, result.severity, (result.policy,),
                                           default_level(None, result.severity, fail_on, result.action), _help_uri(result.policy, "builtin:", ())))
    return descriptors, index


def _descriptor(rule_id: str, title: str, description: str, remedy: Remedy, severity: Severity, tags: tuple[str, ...],
                default: Level, help_uri: str | None) -> dict[str, Any]:
    description = " ".join(description.split())
    descriptor: dict[str, Any] = {
        "id": rule_id,
        "name": title,
        "shortDescription": {"text": title},
        "fullDescription": {"text": description or title},
        "help": {"text": remedy.hint or title, "markdown": help_markdown(rule_id, title, description, remedy, severity)},
    }
    if help_uri:
        descriptor["helpUri"] = help_uri
    descriptor["defaultConfiguration"] = {"level": LEVELS[default]}
    descriptor["properties"] = {"tags": list(dict.fromkeys(tags)), "security-severity": SECURITY_SEVERITY[severity]}
    return descriptor


def help_markdown(rule_id: str, title: str, description: str, remedy: Remedy, severity: Severity) -> str:
    """What code scanning shows under "Show more": the rule, what it checks, what to do."""
    lines = [f"**{_md(title)}** (`{rule_id}`, severity {severity.name})", ""]
    if description:
        lines += [_md(description), ""]
    if remedy.hint:
        lines += [f"**Remedy** ({remedy.action}): {_md(remedy.hint)}", ""]
    lines.append(f"Run `wfgy-rules explain {rule_id}` for the rule's parameters and a trace; waive or tune it under `waivers:` / `rules:` in `wfgy.yaml`.")
    return "\n".join(lines)


def _md(text: str) -> str:
    """Plain text inside markdown: the characters that would start markup escaped."""
    return "".join(f"\\{c}" if c in "\\`*_[]<>|#" else c for c in text)


def _help_uri(policy: str, policy_path: str, references: tuple[str, ...]) -> str | None:
    """A shipped pack's README section; a team rule's first http(s) reference; else none."""
    if policy_path.startswith("builtin:") and policy in HELP_URIS:
        return HELP_URIS[policy]
    return next((ref for ref in references if ref.startswith(("https://", "http://"))), None)


def _result(result: Result, rule: Rule | None, rule_index: int, locator: Locator) -> dict[str, Any]:
    text = result.message or result.title
    data: dict[str, Any] = {
        "ruleId": result.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[level(result)],
        "message": {"text": f"{result.target}: {text}" if result.target else text},
        "locations": [{"physicalLocation": _physical(locator.locate(result, rule))}],
        "partialFingerprints": {FINGERPRINT: _fingerprint(result, rule, locator)},
    }
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
    uri = quote(os.fsencode(where.path), safe="/")  # a name that is not valid Unicode: its bytes, percent-encoded
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    region = {key: value for key, value in (("startLine", where.line), ("startColumn", where.column)) if value is not None}
    if "startLine" in region:
        physical["region"] = region
    return physical


def _fingerprint(result: Result, rule: Rule | None, locator: Locator) -> str:
    """Over the result's own place (not the fallback a consumer is shown, which moves when
    ``wfgy.yaml`` is edited): a shipped rule's ``builtin:…`` path is stable too."""
    own = result.location or (rule.location if rule else SourceLocation(""))
    where = (None if own.path.startswith("builtin:") or not own.path else locator.relative(own.path, own.line)) or own
    key = json.dumps([result.rule_id, where.path, where.line, result.target, result.index])
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
