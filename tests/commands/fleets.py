"""Fleets for the fleet and merge tests: a project and a directory of bundles."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import REPLICAS_RULE, TEAM_POLICY, write_project

WAIVERS = """\
waivers:
  - {rule: team.replicas, reason: single replica pools are being retired, expires: 2999-01-01, approved_by: sre}
  - {rule: team.gone, reason: a rule that was removed, expires: 2999-01-01}
"""


def make_fleet(root: Path, count: int, failing: bool = True) -> Path:
    """``root/fleet`` with ``count`` bundles: every 7th too long (fails; none when not
    ``failing``), every 5th one replica (waived)."""
    write_project(root, policy=TEAM_POLICY + REPLICAS_RULE)
    with (root / "wfgy.yaml").open("a") as handle:
        handle.write(WAIVERS)
    fleet = root / "fleet"
    fleet.mkdir()
    for i in range(count):
        serving = {"max_model_len": 9000 if failing and i % 7 == 3 else 2048, "replicas": 1 if i % 5 == 0 else 2}
        (fleet / f"node-{i:04d}.json").write_text(json.dumps({"file": {"serving": serving}}))
    return root


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]
