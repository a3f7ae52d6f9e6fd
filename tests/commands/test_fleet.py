"""The fleet through the real CLI (SPEC §11 "Fleet"): ``--format jsonl`` streaming, ``--jobs``
giving byte-identical reports, ``--shard I/N`` + ``merge`` ≡ the single run, and Ctrl-C or
SIGTERM ending the worker pool with no process left behind. Fleets are small (hundreds of
bundles); big ones belong to ``bench/``."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.commands.fleets import lines, make_fleet
from tests.helpers import cli_command, run_cli


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    return make_fleet(tmp_path_factory.mktemp("fleet"), 300)


def test_jsonl_streams_one_line_a_result_with_target_and_digest_then_a_closing_line(fleet):
    done = run_cli("eval", "--facts", "fleet", "-f", "jsonl", "--jobs", "1", cwd=fleet)
    assert done.returncode == 1, done.stderr
    rows = lines(done.stdout)
    warning, *results, closing = rows
    assert warning["rule_id"] == "wfgy.waiver-unmatched" and "target" not in warning
    assert len(results) == 600 and all(r["bundle_digest"].startswith("sha256:") for r in results)
    first = (fleet / "fleet" / "node-0000.json").read_bytes()
    assert results[0]["target"] == "node-0000.json" and results[0]["bundle_digest"] == "sha256:" + hashlib.sha256(first).hexdigest()
    assert closing["summary"] == {"pass": 497, "fail": 44, "skip": 0, "error": 0, "waived": 60}
    assert closing["outcome"] == "fail" and closing["bundles"] == 300 and "shard" not in closing
    expected = hashlib.sha256("".join(f"{p.name} sha256:{hashlib.sha256(p.read_bytes()).hexdigest()}\n"
                                      for p in sorted((fleet / "fleet").iterdir())).encode()).hexdigest()
    assert closing["facts_digest"] == "sha256:" + expected


def test_jsonl_says_what_the_json_report_says(fleet):
    report = json.loads(run_cli("eval", "--facts", "fleet", "-f", "json", cwd=fleet).stdout)
    *results, closing = lines(run_cli("eval", "--facts", "fleet", "-f", "jsonl", cwd=fleet).stdout)
    assert [{k: v for k, v in r.items() if k != "bundle_digest"} for r in results] == report["results"]
    for key in ("outcome", "forced", "fail_on", "policy_digest", "facts_digest", "summary", "stage", "mode"):
        assert closing[key] == report[key], key


@pytest.mark.parametrize("fmt", ["jsonl", "json", "sarif", "junit", "markdown", "text"])
def test_jobs_give_byte_identical_reports(fleet, fmt):
    serial = run_cli("eval", "--facts", "fleet", "-f", fmt, "--jobs", "1", cwd=fleet)
    parallel = run_cli("eval", "--facts", "fleet", "-f", fmt, "--jobs", "3", cwd=fleet)
    assert serial.returncode == parallel.returncode == 1, parallel.stderr
    assert parallel.stdout == serial.stdout and serial.stdout


def test_streamed_and_in_memory_jsonl_are_byte_identical(fleet, tmp_path):
    streamed = run_cli("eval", "--facts", "fleet", "-f", "jsonl", "--report", f"jsonl={tmp_path / 'copy.jsonl'}", cwd=fleet)
    held = run_cli("eval", "--facts", "fleet", "-f", "jsonl", "--report", f"json={tmp_path / 'r.json'}", cwd=fleet)
    assert streamed.stdout == held.stdout == (tmp_path / "copy.jsonl").read_text()


@pytest.mark.parametrize("count", [1, 2, 7])
def test_merged_shards_are_the_single_run_byte_for_byte(fleet, tmp_path, count):
    single = run_cli("eval", "--facts", "fleet", "-f", "jsonl", cwd=fleet)
    shards = []
    for index in range(1, count + 1):
        out = tmp_path / f"shard-{index}.jsonl"
        done = run_cli("eval", "--facts", "fleet", "-f", "jsonl", "--shard", f"{index}/{count}", "-o", str(out), "--jobs", "2", cwd=fleet)
        assert done.returncode in (0, 1), done.stderr
        assert lines(out.read_text())[-1]["shard"] == f"{index}/{count}"
        shards.append(str(out))
    judged = [r["target"] for s in shards for r in lines(Path(s).read_text()) if "target" in r]
    assert len(set(judged)) == 300  # every bundle in exactly one shard
    merged = run_cli("merge", *reversed(shards), cwd=fleet)
    assert merged.returncode == single.returncode == 1, merged.stderr
    assert merged.stdout == single.stdout
    to_file = run_cli("merge", *shards, "--output", str(tmp_path / "merged.jsonl"), cwd=fleet)
    assert to_file.returncode == 1 and (tmp_path / "merged.jsonl").read_text() == single.stdout


def test_a_shard_judges_the_same_bundles_on_every_run(fleet):
    runs = [{r["target"] for r in lines(run_cli("eval", "--facts", "fleet", "-f", "jsonl", "--shard", "2/3", cwd=fleet).stdout) if "target" in r}
            for _ in range(2)]
    assert runs[0] == runs[1] and 50 < len(runs[0]) < 150


def test_merge_refuses_what_is_not_all_shards_of_one_run(fleet, tmp_path):
    for index in (1, 2):
        run_cli("eval", "--facts", "fleet", "-f", "jsonl", "--shard", f"{index}/2", "-o", str(tmp_path / f"s{index}.jsonl"), cwd=fleet)
    run_cli("eval", "--facts", "fleet", "-f", "json", "-o", str(tmp_path / "r.json"), cwd=fleet)
    cases = [
        ([tmp_path / "s1.jsonl"], "missing shard(s) 2/2"),
        ([tmp_path / "s1.jsonl", tmp_path / "s1.jsonl"], "missing shard(s) 2/2; shard(s) given twice: 1/2"),
        ([tmp_path / "r.json"], "not a jsonl report line"),
    ]
    for paths, expected in cases:
        done = run_cli("merge", *map(str, paths), cwd=fleet)
        assert done.returncode == 2 and expected in done.stderr, done.stderr


def test_shard_and_jobs_are_checked(fleet):
    for args, expected in [(["--shard", "0/2"], "expected I/N with 1 <= I <= N"), (["--shard", "3/2"], "expected I/N"), (["--shard", "²/2"], "expected I/N"),
                           (["--jobs", "0"], "--jobs 0: expected 1 or more"),
                           (["--shard", "1/2", "-f", "json"], "use --format jsonl")]:
        done = run_cli("eval", "--facts", "fleet", *args, cwd=fleet)
        assert done.returncode == 2 and expected in done.stderr, done.stderr
    done = run_cli("eval", "--shard", "1/2", "-f", "jsonl", cwd=fleet)
    assert done.returncode == 2 and "--shard needs --facts DIR" in done.stderr


def test_a_bad_bundle_in_a_worker_is_exit_2_with_its_name(tmp_path):
    root = make_fleet(tmp_path, 60)
    (root / "fleet" / "node-0042.json").write_text('{"file": {"a": 1, "a": 2}}')
    done = run_cli("eval", "--facts", "fleet", "-f", "jsonl", "--jobs", "2", "-o", "out.jsonl", cwd=root)
    assert done.returncode == 2 and "node-0042.json: duplicate key 'a' in a JSON object" in done.stderr
    assert not (root / "out.jsonl").exists()


@pytest.mark.parametrize(("signum", "code", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_interrupting_the_pool_ends_every_worker(tmp_path, signum, code, word):
    root = make_fleet(tmp_path, 40)
    fleet = root / "fleet"
    for i in range(40, 4000):  # enough work to still be running when the signal comes
        (fleet / f"node-{i:04d}.json").write_text((fleet / "node-0001.json").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFGY_")} | {"NO_COLOR": "1"}
    proc = subprocess.Popen([*cli_command(), "eval", "--facts", "fleet", "-f", "jsonl", "--jobs", "2", "-o", "out.jsonl"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_children(proc.pid)) < 2:
        time.sleep(0.05)
    assert len(_children(proc.pid)) >= 2, "the pool did not start"
    os.kill(proc.pid, signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code and word in err
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # nothing left in the run's process group
    assert not (root / "out.jsonl").exists() and not list(root.glob(".out.jsonl.*"))


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the pool forks (Linux)")
