"""`wfgy_rules.run.arrivals`: which ``block`` rules preflight can still wait for, as data."""

from __future__ import annotations

import pytest

from wfgy_rules.documents.yamlio import load_text
from wfgy_rules.policy.compiler import compile_policy
from wfgy_rules.run.arrivals import cannot_arrive

ENV = "the process environment does not change while a process runs"


def rule(*facts: str):
    text = f"""apiVersion: wfgy-rules/v1
kind: Policy
metadata: {{name: t}}
rules:
  - {{id: t.r, title: r, severity: high, facts: [{', '.join(facts)}], assert: "`true`", remedy: {{action: block}}}}
"""
    return compile_policy(load_text(text, "p.yaml"), 0, frozenset(facts)).rules[0]


@pytest.mark.parametrize(("facts", "secrets", "why"), [
    (["secrets"], None, f"none of its sources can still deliver a secret: env ({ENV})"),
    (["secrets"], [{"type": "env"}], f"none of its sources can still deliver a secret: env ({ENV})"),
    (["secrets"], [{"type": "env"}, {"type": "dir", "path": "mounted"}], None),
    (["secrets"], [{"type": "dir", "path": "gone"}],
     "none of its sources can still deliver a secret: dir:gone (not there; a volume is mounted before the process starts)"),
    (["secrets"], [{"type": "dotenv", "path": "mounted/app.env"}], None),  # may still be rendered there
    (["secrets"], [{"type": "dotenv", "path": "gone/app.env"}],
     "none of its sources can still deliver a secret: dotenv:gone/app.env (neither the file nor its directory is there; "
     "a volume is mounted before the process starts)"),
    (["env"], None, f"env: {ENV}"),
    (["env", "secrets"], None, f"env: {ENV}; none of its sources can still deliver a secret: env ({ENV})"),
    (["env", "file"], None, None),  # a file can still be mounted
    (["nvml"], None, None),
])
def test_what_can_still_arrive(tmp_path, facts, secrets, why):
    (tmp_path / "mounted").mkdir()
    settings = {} if secrets is None else {"secrets": {"required": ["K"], "sources": secrets}}
    assert cannot_arrive(rule(*facts), settings, tmp_path) == why
