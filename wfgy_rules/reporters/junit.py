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
        <testcase classname="team" name="team.items[prompts/a.txt:7:1] @node-b.json" time="0">…</testcase>
        <testcase classname="team" name="team.soft" time="0" />
        …
        <system-out>warning: team.soft: images pinned
    hint: Pin the image by digest.</system-out>
        <system-err />
      </testsuite>
    </testsuites>

One ``testsuite`` per policy, one ``testcase`` per result, named after the rule with, for a
``for_each`` element, its place in brackets (``prompt.undeclared-placeholder[prompts/a.jinja:4:25]``;
the element's index only when it has no place, as an index shifts when elements come and go,
and a test history would mix them up) and, with ``--facts DIR``, ``@`` and the target.

Levels follow `wfgy_rules.reporters.levels`, the table every format shares: a result that
fails the run is a ``failure`` (``fail``; its ``type`` is the severity) or an ``error``
(``error``). A result that does not fail the run (``warn``, ``fallback``, below ``--fail-on``,
``info``) is a *passing* test case, as the gate let it through; JUnit has no warnings, so its
text goes to the suite's ``system-out``, one ``warning:``/``note:`` entry each. ``skip`` and
``waived`` are ``skipped``. The failure text holds the message, hint, location and evidence
(each comparison, then the values of its sub-expressions, as the text report shows them).

The output is byte-identical for the same inputs, so it deliberately leaves out the two
attributes of the strict Ant schema that depend on the run, ``timestamp`` and ``hostname``
(JUnit consumers do not require them); everything else that schema asks for is there.
Times are ``0``: rules are not timed.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from wfgy_rules.model import Result, Rule, Status
from wfgy_rules.policy.subexpressions import step_lines
from wfgy_rules.reporters import Report, escaping, locate
from wfgy_rules.reporters.levels import Level, level

_ELEMENT = {Status.fail: "failure", Status.error: "error", Status.skip: "skipped", Status.waived: "skipped"}

UNENCODABLE = "xmlcharrefreplace"  # a stream that cannot carry a character gets &#NNNN; (reporters.emit)


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
        names: set[str] = set()
        for result in results:
            _testcase(suite, result, rules.get(result.rule_id), names)
        out = ET.SubElement(suite, "system-out")
        notes = [_note(r, rules.get(r.rule_id)) for r in results if r.status.failing and level(r) is not Level.error]
        if notes:
            out.text = _clean("\n".join(notes))
        ET.SubElement(suite, "system-err")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def testcase_name(result: Result) -> str:
    """``rule_id``; for a ``for_each`` element ``[path:line:col]`` (``[index]`` when it has no
    place); `` @target`` with ``--facts DIR``."""
    name = result.rule_id
    if result.index is not None:
        where = locate(result, None)
        name += f"[{where}]" if where is not None else f"[{result.index}]"
    return f"{name} @{result.target}" if result.target else name


def _suite_counts(policy: str, results: list[Result], number: int) -> dict[str, str]:
    def count(*statuses: Status) -> str:
        return str(sum(r.status in statuses for r in results))

    def failed(status: Status) -> str:
        return str(sum(r.status is status and level(r) is Level.error for r in results))

    return {
        "name": _clean(policy),
        "tests": str(len(results)),
        "failures": failed(Status.fail),
        "errors": failed(Status.error),
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
        ("outcome", outcome.verdict),
        ("forced", "true" if outcome.forced else "false"),
    ]


def _testcase(suite: ET.Element, result: Result, rule: Rule | None, names: set[str]) -> None:
    name = testcase_name(result)
    if name in names:  # two elements at one place: told apart by their index
        name = f"{name} #{result.index}"
    names.add(name)
    case = ET.SubElement(suite, "testcase", {"classname": _clean(result.policy), "name": _clean(name), "time": "0"})
    element = _ELEMENT.get(result.status)
    if element is None or (result.status.failing and level(result) is not Level.error):
        return
    message = result.message or result.title
    if result.status is Status.waived and result.waiver:
        message = f"waived: {result.waiver.get('reason', '')} (until {result.waiver.get('expires', '?')}): {message}"
    attributes = {"message": _clean(message)}
    if element != "skipped":
        attributes["type"] = result.severity.name
    detail = ET.SubElement(case, element, attributes)
    detail.text = _clean("\n".join(_details(result, rule, message)))


def _note(result: Result, rule: Rule | None) -> str:
    """A non-blocking failure, for the suite's ``system-out``."""
    lines = _details(result, rule, result.message or result.title)
    word = "note" if level(result) is Level.note else "warning"
    return "\n    ".join([f"{word}: {testcase_name(result)}: {lines[0]}", *lines[1:]])


def _details(result: Result, rule: Rule | None, message: str) -> list[str]:
    lines = [message]
    if result.hint and result.status.failing:
        lines.append(f"hint: {result.hint}")
    where = locate(result, rule)
    if where is not None:
        lines.append(f"at: {where}")
    for e in result.evidence:
        lines.append(f"evidence: {e.key}: {_json(e.left)} {e.op} {_json(e.right)}")
        lines += step_lines(e.values, "  ")  # the sub-expressions' values, as the text report shows them
    return lines


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# Characters XML 1.0 cannot carry, even escaped, shown as \xNN / \uNNNN instead: every string
# this reporter did not write passes through here.
_clean = escaping.xml
