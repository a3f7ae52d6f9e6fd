"""Providers are bounded: a plugin that hangs or crashes costs only its own rules.

The plugins are a real distribution found through the ``wfgy_rules.providers`` entry point
(a ``*.dist-info/entry_points.txt`` on ``PYTHONPATH``), exactly as a third-party plugin is.
Ctrl-C during a run ends it with exit 130 and one line, never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.helpers import cli_command, dedent, run_cli

POLICY = """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: plug}
rules:
  - {id: plug.hang, title: hang, severity: high, facts: [hang], assert: "hang.ok"}
  - {id: plug.boom, title: boom, severity: high, facts: [boom], assert: "boom.ok"}
  - {id: plug.file, title: file, severity: high, facts: [file], assert: "file.serving.ok"}
"""


def write_project(root: Path, providers: str) -> Path:
    (root / "pol.yaml").write_text(POLICY)
    (root / "serving.yaml").write_text("ok: true\n")
    (root / "wfgy.yaml").write_text(dedent(f"""
        apiVersion: wfgy-rules/v1
        kind: Config
        policies: [pol.yaml]
        providers:
          file: {{files: {{serving: serving.yaml}}}}
        {providers}
    """))
    return root


def test_a_hanging_and_a_crashing_provider_cost_only_their_rules(tmp_path, plugin_path):
    write_project(tmp_path, "  hang: {timeout: 1s}")
    started = time.monotonic()
    done = run_cli("eval", "-f", "json", cwd=tmp_path, env={"PYTHONPATH": str(plugin_path)}, timeout=30)
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert elapsed < 10, elapsed  # the hang provider would sleep 60 s
    results = {r["rule_id"]: (r["status"], r["message"]) for r in json.loads(done.stdout)["results"]}
    assert results == {
        "plug.hang": ("error", "provider 'hang' did not finish within its 1s timeout"),
        "plug.boom": ("error", "provider 'boom' crashed: RuntimeError: kaboom in the boom provider"),
        "plug.file": ("pass", ""),
    }
    assert "Traceback" not in done.stderr


def test_facts_records_failed_providers_and_keeps_the_others(tmp_path, plugin_path):
    write_project(tmp_path, "  hang: {timeout: 1s}")
    done = run_cli("facts", cwd=tmp_path, env={"PYTHONPATH": str(plugin_path)}, timeout=30)
    assert done.returncode == 0, done.stderr
    bundle = json.loads(done.stdout)
    assert bundle["file"] == {"serving": {"ok": True}}
    assert sorted(bundle["_errors"]) == ["boom", "hang"]


def test_ctrl_c_during_a_run_exits_130_without_a_traceback(tmp_path, plugin_path):
    write_project(tmp_path, "")  # hang keeps the default 30 s timeout
    marker = tmp_path / "hang-started"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFGY_")}
    env.update(PYTHONPATH=str(plugin_path), HANG_STARTED_FILE=str(marker), NO_COLOR="1")
    process = subprocess.Popen([*cli_command(), "eval", "--output", "report.txt"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the hang provider never started"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, (out, err)
    assert err.strip().splitlines() == ["interrupted"], err
    assert not (tmp_path / "report.txt").exists()  # nothing half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hang-started", "pol.yaml", "serving.yaml", "site", "wfgy.yaml"]
