"""The benchmark harness runs end to end on tiny inputs (figures are not asserted: timing
targets live in bench/, never in tests)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow


def test_bench_quick_run_prints_every_figure_with_its_baseline(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(out.read_text())["results"]
    figures = [row["figure"] for row in rows]
    for expected in ("cold start: eval wall", "cold start: eval peak RSS", "evaluation:", "load+compile", "prompt scan", "fleet:", "preflight"):
        assert any(f.startswith(expected) for f in figures), expected
    for row in rows:
        assert "error" not in row, row
        if "skipped" not in row:
            assert {"ours", "baseline", "ratio", "target", "met"} <= row.keys()
    assert "ratio" in done.stdout and "target" in done.stdout
