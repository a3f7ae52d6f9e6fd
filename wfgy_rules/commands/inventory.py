"""``wfgy-rules list``: the rule inventory auditors ask for.

One row per loaded rule (or per rule of ``--stage``): id, policy, stage, file, sha256 of the
file, severity, facts, action, owner, and the waivers that name it; then every waiver of the config with its state
(active / expired / unmatched).
"""

from __future__ import annotations

import fnmatch
import json
import sys
from datetime import date

from wfgy_rules.errors import UsageError
from wfgy_rules.run.session import open_session
from wfgy_rules.run.waivers import waiver_state

_COLUMNS = ("id", "policy", "stage", "severity", "action", "facts", "owner", "file", "sha256")


def run(config: str | None, policies: list[str], fmt: str, stage: str = "all") -> int:
    if fmt not in ("table", "json"):
        raise UsageError(f"--format {fmt!r} is not one of: table, json")
    session = open_session(config, policies, stage=stage)
    today = date.today()
    files = {policy.name: policy for policy in session.policy_set.policies}
    rows = []
    for rule in session.rules:
        policy = files[rule.policy]
        rows.append({
            "id": rule.id,
            "policy": rule.policy,
            "stage": rule.stage,
            "file": policy.path,
            "sha256": policy.sha256,
            "severity": rule.severity.name,
            "facts": list(rule.facts),
            "action": rule.remedy.action,
            "owner": rule.owner,
            "enabled": rule.enabled,
            "waivers": [
                {**waiver, "state": waiver_state(waiver, session.all_rules, today)}
                for waiver in session.config.waivers
                if fnmatch.fnmatchcase(rule.id, waiver["rule"])
            ],
        })
    waivers = [{**w, "state": waiver_state(w, session.all_rules, today)} for w in session.config.waivers]
    if fmt == "json":
        sys.stdout.write(json.dumps({"rules": rows, "waivers": waivers}, indent=2, ensure_ascii=False) + "\n")
        return 0
    table = [[_cell(row, c) for c in _COLUMNS] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in table)) if table else len(c) for i, c in enumerate(_COLUMNS)]
    for line in [list(_COLUMNS), *table]:
        sys.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() + "\n")
    if waivers:
        sys.stdout.write("\nwaivers:\n")
        for w in waivers:
            extra = "".join(f", {k} {w[k]}" for k in ("approved_by", "ticket") if k in w)
            sys.stdout.write(f"  {w['rule']}  {w['state']}  expires {w['expires']}{extra}: {w['reason']}\n")
    return 0


def _cell(row: dict, column: str) -> str:
    value = row[column]
    if column == "sha256":
        return value[:12]
    if isinstance(value, list):
        return ",".join(value)
    return str(value)
