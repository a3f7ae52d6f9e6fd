"""The streamed fleet report (``--format jsonl``): a pool worker sends each verdict's text
once and then its number; whatever the worker and the writer forget along the way, the
report is the one a serial run writes, byte for byte."""

from __future__ import annotations

import io
import json

import pytest

from tests.helpers import TEAM_POLICY, write_project
from wfgy_rules.documents.fact_bundles import read_fleet_bundle
from wfgy_rules.reporters import jsonl, stream
from wfgy_rules.run.fleet import Plan, fleet_files
from wfgy_rules.run.session import open_session


@pytest.fixture()
def fleet(tmp_path, monkeypatch):
    write_project(tmp_path, policy=TEAM_POLICY)
    directory = tmp_path / "fleet"
    directory.mkdir()
    for i in range(120):  # 5 distinct sections, then 20 that are each their own
        serving = {"max_model_len": 9000 if i % 5 == 3 else 2048 + i % 5} if i < 100 else {"max_model_len": 5000 + i}
        (directory / f"node-{i:04d}.json").write_text(json.dumps({"file": {"serving": serving}}))
    monkeypatch.chdir(tmp_path)
    return directory


def report(fleet, jobs: int) -> bytes:
    session = open_session(announce=False)
    plan = Plan.of(session.config, session.rules, session.all_rules)
    out = io.BytesIO()
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    closing = jsonl.Closing(session.policy_set.digest, session.config.fail_on.name)
    stream.stream_fleet(plan, fleet_files(fleet), read_fleet_bundle, jobs, False, closing, [None], text)
    text.flush()
    return out.getvalue()


def test_a_pool_writes_what_a_serial_run_writes_even_when_verdict_texts_are_forgotten(fleet, monkeypatch):
    serial = report(fleet, jobs=1)
    assert serial.count(b"\n") == 121 and b'"target": "node-0119.json"' in serial
    assert report(fleet, jobs=2) == serial
    monkeypatch.setattr(stream, "KEEP_VERDICTS", 2)  # texts sent again and again
    assert report(fleet, jobs=2) == serial
    assert report(fleet, jobs=1) == serial
    monkeypatch.setattr(stream, "KEEP_VERDICTS", 8192)
    monkeypatch.setattr(stream, "KEEP_TEXT", 10)  # every text forgotten at once
    assert report(fleet, jobs=2) == serial


def test_a_worker_sends_a_shared_verdict_once(fleet):
    session = open_session(announce=False)
    plan = Plan.of(session.config, session.rules, session.all_rules)
    sender = stream._Sender()
    first = sender.message(plan.judge(read_fleet_bundle(fleet / "node-0000.json")))
    again = sender.message(plan.judge(read_fleet_bundle(fleet / "node-0005.json")))  # the same section
    assert first[4][3] and not again[4][3]  # texts only the first time
    assert first[4][2] == again[4][2]  # the same verdict numbers
