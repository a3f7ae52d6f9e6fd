"""``--format junit``: JUnit XML, for CI systems that show test reports (GitLab, Jenkins,
Azure Pipelines, CircleCI).

::

    <?xml version="1.0" encoding="UTF-8"?>
    <testsuites>
      <testsuite name="team" tests="3" failures="1" errors="0" skipped="1" time="0" package="team" id="0">
        <properties>
          <property name="wfgy-rules.version" value="0.1.0" />
          <property name="policy_digest" value="sha256:…" />
          …
        </properties>
        <testcase classname="team" name="team.max-len" time="0">
          <failure message="max_model_len 8192 &gt; context 4096" type="high">max_model_len 8192 &gt; context 4096
    hint: Lower max_model_len.
    at: team.yaml:5:5
    evidence: file.serving.max_model_len &lt;= params.context: 8192 &lt;= 4096</failure>
        </testcase>
        <testcase classname="team" name="team.items[1] @node-b.json" time="0">…</testcase>
        …
        <system-out />
        <system-err />
      </testsuite>
    </testsuites>

One ``testsuite`` per policy, one ``testcase`` per result, named after the rule with the
``for_each`` index in brackets and, with ``--facts DIR``, ``@`` and the target. ``fail`` is a
``failure`` (its ``type`` is the severity), ``error`` an ``error``, ``skip`` and ``waived``
are ``skipped``. The failure text holds the message, hint, location and evidence.

The output is byte-identical for the same inputs, so it deliberately leaves out the two
attributes of the strict Ant schema that depend on the run, ``timestamp`` and ``hostname``
(JUnit consumers do not require them); everything else that schema asks for is there.
Times are ``0``: rules are not timed.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from wfgy_rules.model import Result, Rule, Status
from wfgy_rules.reporters import Report, locate

# Characters XML 1.0 cannot carry, even escaped; shown as \xNN / \uNNNN instead.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ELEMENT = {Status.fail: "failure", Status.error: "error", Status.skip: "skipped", Status.waived: "skipped"}


def render(report: Report, color: bool = False) -> str:
    rules = {rule.id: rule for rule in report.rules}
    suites: dict[str, list[Result]] = {}
    for result in report.outcome.results:
        suites.setdefault(result.policy, []).append(result)
    root = ET.Element("testsuites")
    for number, (policy, results) in enumerate(sorted(suites.items(), key=lambda item: min(r.order for r in item[1]))):
        suite = ET.SubElement(root, "testsuite", _suite_counts(policy, results, number))
        properties = ET.SubElement(suite, "properties")
        for name, value in _properties(report):
            ET.SubElement(properties, "property", {"name": name, "value": _clean(value)})
        for result in results:
            _testcase(suite, result, rules.get(result.rule_id))
        ET.SubElement(suite, "system-out")
        ET.SubElement(suite, "system-err")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def testcase_name(result: Result) -> str:
    """``rule_id``, ``[index]`` for a ``for_each`` element, `` @target`` with ``--facts DIR``."""
    name = result.rule_id if result.index is None else f"{result.rule_id}[{result.index}]"
    return f"{name} @{result.target}" if result.target else name


def _suite_counts(policy: str, results: list[Result], number: int) -> dict[str, str]:
    def count(*statuses: Status) -> str:
        return str(sum(r.status in statuses for r in results))

    return {
        "name": _clean(policy),
        "tests": str(len(results)),
        "failures": count(Status.fail),
        "errors": count(Status.error),
        "skipped": count(Status.skip, Status.waived),
        "time": "0",
        "package": _clean(policy),
        "id": str(number),
    }


def _properties(report: Report) -> list[tuple[str, str]]:
    outcome = report.outcome
    return [
        ("wfgy-rules.version", report.tool_version),
        ("policy_digest", report.policy_digest),
        ("facts_digest", report.facts_digest),
        ("fail_on", outcome.fail_on.name),
        ("outcome", "fail" if outcome.failed and not outcome.forced else "pass"),
        ("forced", "true" if outcome.forced else "false"),
    ]


def _testcase(suite: ET.Element, result: Result, rule: Rule | None) -> None:
    case = ET.SubElement(suite, "testcase", {"classname": _clean(result.policy), "name": _clean(testcase_name(result)), "time": "0"})
    element = _ELEMENT.get(result.status)
    if element is None:
        return
    message = result.message or result.title
    if result.status is Status.waived and result.waiver:
        message = f"waived: {result.waiver.get('reason', '')} (until {result.waiver.get('expires', '?')}): {message}"
    attributes = {"message": _clean(message)}
    if element != "skipped":
        attributes["type"] = result.severity.name
    detail = ET.SubElement(case, element, attributes)
    detail.text = _clean("\n".join(_details(result, rule, message)))


def _details(result: Result, rule: Rule | None, message: str) -> list[str]:
    lines = [message]
    if result.hint and result.status.failing:
        lines.append(f"hint: {result.hint}")
    where = locate(result, rule)
    if where is not None:
        lines.append(f"at: {where}")
    lines += [f"evidence: {e.key}: {_json(e.left)} {e.op} {_json(e.right)}" for e in result.evidence]
    return lines


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _clean(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids (each replaced by its escape)."""
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
