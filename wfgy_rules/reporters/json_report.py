"""``--format json``: the report of SPEC §8, valid against ``schemas/report.schema.json``.

Keys and results come in a fixed order and nothing depends on the clock, so the same inputs
give byte-identical output. The envelope is indented; each result is one compact line, which
keeps diffs readable and lets the C JSON encoder write fleet reports of many thousands of
results quickly.
"""

from __future__ import annotations

import json

from wfgy_rules.reporters import Report, escaping, result_json

UNENCODABLE = "wfgy-json-escape"  # a stream that cannot carry a character gets a JSON \u escape (reporters.emit)


def render(report: Report, color: bool = False) -> str:
    outcome = report.outcome
    data = {
        "version": "1",
        "tool": {"name": "wfgy-rules", "version": report.tool_version},
        "mode": report.mode,
        "stage": report.stage,
        "outcome": outcome.verdict,
        "forced": outcome.forced,
        "fail_on": outcome.fail_on.name,
        "policy_digest": report.policy_digest,
        "facts_digest": report.facts_digest,
        "summary": outcome.summary,
        "fallback_env": dict(sorted(report.fallback_env.items())),
    }
    if outcome.forced:
        data["overridden"] = [
            {"rule_id": r.rule_id, "status": r.status.value, "severity": r.severity.name, "message": r.message, **({"target": r.target} if r.target else {})}
            for r in outcome.overridden
        ]
    head = json.dumps(data, indent=2, ensure_ascii=False)
    lines = ",\n".join("    " + json.dumps(result_json(r), ensure_ascii=False) for r in outcome.results)
    body = f'  "results": [\n{lines}\n  ]' if outcome.results else '  "results": []'
    return escaping.json(f"{head[:-2]},\n{body}\n}}\n")
