"""``wfgy-rules merge`` through the real CLI: what ties shard reports to one run (the bundle
listing, the config, the selection, ``--force``), each shard recounted against its own
closing line, and a malformed shard report refused with FILE:LINE (exit 2). That the merge of
all shards is the single run, byte for byte, is in ``test_fleet.py``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.commands.fleets import lines, make_fleet
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    return make_fleet(tmp_path_factory.mktemp("merge"), 40)


def shard(root: Path, spec: str, out: Path, *args: str) -> Path:
    done = run_cli("eval", "--facts", "fleet", "-f", "jsonl", "--shard", spec, "-o", str(out), "--jobs", "1", *args, cwd=root)
    assert done.returncode in (0, 1), done.stderr
    return out


def write_lines(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def refused(done, where: str, *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith(where), done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


# what ties shards to one run ---------------------------------------------------------------

def test_a_shard_of_yesterdays_run_is_refused_though_the_bundle_names_are_the_same(tmp_path):
    root = make_fleet(tmp_path, 20, failing=False)
    old = lines(shard(root, "1/2", tmp_path / "old-1.jsonl").read_text())
    target = next(row["target"] for row in old if "target" in row)
    bundle = root / "fleet" / target
    before = bundle.stat().st_mtime_ns
    bundle.write_text(bundle.read_text().replace("2048", "9000"))  # same size: today it fails
    assert bundle.stat().st_mtime_ns != before
    new = shard(root, "2/2", tmp_path / "new-2.jsonl")
    assert run_cli("eval", "--facts", "fleet", "-f", "jsonl", cwd=root).returncode == 1  # the single run fails
    done = run_cli("merge", str(new), str(tmp_path / "old-1.jsonl"), cwd=root)
    refused(done, f"{tmp_path / 'old-1.jsonl'}:", f"not a shard of the same run as {new}", "bundle listing")


def test_a_shard_of_another_directory_is_refused(tmp_path):
    (tmp_path / "today").mkdir(), (tmp_path / "other").mkdir()
    today = make_fleet(tmp_path / "today", 20)
    other = make_fleet(tmp_path / "other", 20, failing=False)
    (other / "fleet" / "node-0019.json").rename(other / "fleet" / "node-0020.json")
    first = shard(other, "1/2", tmp_path / "other-1.jsonl")
    second = shard(today, "2/2", tmp_path / "today-2.jsonl")
    done = run_cli("merge", str(first), str(second), cwd=tmp_path)
    refused(done, f"{second}:", f"not a shard of the same run as {first}", "bundle listing")


def test_shards_judged_on_two_copies_that_keep_modification_times_merge(fleet, tmp_path):
    copy = Path(shutil.copytree(fleet, tmp_path / "elsewhere"))  # copy2: times kept, the config in another directory
    first, second = shard(fleet, "1/2", tmp_path / "s1.jsonl"), shard(copy, "2/2", tmp_path / "s2.jsonl")
    single = run_cli("eval", "--facts", "fleet", "-f", "jsonl", cwd=fleet)
    done = run_cli("merge", str(second), str(first), cwd=tmp_path)
    assert done.returncode == single.returncode == 1 and done.stdout == single.stdout, done.stderr


@pytest.mark.parametrize(("args", "what"), [
    (["--only", "team.max-len"], "selection (--only)"),
    (["--skip", "team.replicas"], "selection (--skip)"),
    (["--config", "other.yaml"], "config"),
    (["--force"], "--force"),
])
def test_shards_of_another_selection_config_or_force_are_refused(fleet, tmp_path, args, what):
    (fleet / "other.yaml").write_text((fleet / "wfgy.yaml").read_text() + "rules:\n  team.replicas: {enabled: false}\n")
    first = shard(fleet, "1/2", tmp_path / "s1.jsonl")
    second = shard(fleet, "2/2", tmp_path / "s2.jsonl", *args)
    done = run_cli("merge", str(first), str(second), cwd=fleet)
    refused(done, f"{second}:", f"not a shard of the same run as {first}", what)


def test_the_odd_shard_out_is_the_one_named(fleet, tmp_path):
    shards = [shard(fleet, f"{i}/3", tmp_path / f"s{i}.jsonl", *(["--skip", "team.replicas"] if i == 1 else [])) for i in (1, 2, 3)]
    done = run_cli("merge", *map(str, shards), cwd=fleet)
    refused(done, f"{shards[0]}:", f"not a shard of the same run as {shards[1]}", "selection (--skip)")


# each shard adds up ------------------------------------------------------------------------

def test_a_shard_with_its_failing_lines_deleted_is_refused_at_its_closing_line(fleet, tmp_path):
    paths = []
    for index in (1, 2):
        rows = [row for row in lines(shard(fleet, f"{index}/2", tmp_path / f"s{index}.jsonl").read_text()) if not row.get("blocking")]
        assert rows[-1]["outcome"] == "fail"
        paths.append(write_lines(tmp_path / f"cut{index}.jsonl", rows))
    done = run_cli("merge", *map(str, paths), cwd=fleet)
    count = len(paths[0].read_text().splitlines())
    refused(done, f"{paths[0]}:{count}:", "its lines count", "the closing line says")


def test_a_shard_with_a_bundle_deleted_is_refused(fleet, tmp_path):
    rows = lines(shard(fleet, "1/2", tmp_path / "s1.jsonl").read_text())
    gone = next(row["target"] for row in rows if "target" in row and not row.get("blocking"))
    cut = write_lines(tmp_path / "cut.jsonl", [row for row in rows if row.get("target") != gone])
    done = run_cli("merge", str(cut), str(shard(fleet, "2/2", tmp_path / "s2.jsonl")), cwd=fleet)
    refused(done, f"{cut}:{len(cut.read_text().splitlines())}:", "bundles")


def test_a_merge_is_forced_only_when_every_shard_was(fleet, tmp_path):
    forced = [shard(fleet, f"{i}/2", tmp_path / f"f{i}.jsonl", "--force") for i in (1, 2)]
    single = run_cli("eval", "--facts", "fleet", "-f", "jsonl", "--force", cwd=fleet)
    done = run_cli("merge", *map(str, forced), cwd=fleet)
    assert done.returncode == single.returncode == 0, done.stderr
    assert done.stdout == single.stdout and lines(done.stdout)[-1]["forced"] is True


# malformed shard reports -------------------------------------------------------------------

def _closing(rows: list[dict], edit) -> None:
    edit(rows[-1])


def _first_result(rows: list[dict], edit) -> None:
    edit(next(row for row in rows if "rule_id" in row and "target" in row))


MALFORMED = {
    "a count as a string": (_closing, lambda c: c["summary"].update(fail=str(c["summary"]["fail"])), "summary.fail"),
    "bundles as a string": (_closing, lambda c: c.update(bundles=str(c["bundles"])), "bundles"),
    "a missing closing field": (_closing, lambda c: c.pop("forced"), "forced"),
    "shard: 1": (_closing, lambda c: c.update(shard=1), "shard"),
    "shard 3/2": (_closing, lambda c: c.update(shard="3/2"), "shard"),
    "tool as a string": (_closing, lambda c: c.update(tool="wfgy-rules"), "tool"),
    "an unknown outcome": (_closing, lambda c: c.update(outcome="maybe"), "outcome"),
    "an unknown status": (_first_result, lambda r: r.update(status="maybe"), "status"),
    "a missing status": (_first_result, lambda r: r.pop("status"), "status"),
    "blocking as a string": (_first_result, lambda r: r.update(blocking="no"), "blocking"),
    "a target as a number": (_first_result, lambda r: r.update(target=7), "target"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_shard_report_is_exit_2_with_file_and_line(fleet, tmp_path, case):
    where, edit, key = MALFORMED[case]
    rows = lines(shard(fleet, "1/2", tmp_path / "s1.jsonl").read_text())
    where(rows, edit)
    bad = write_lines(tmp_path / "bad.jsonl", rows)
    number = next(n for n, line in enumerate(bad.read_text().splitlines(), 1) if line != (tmp_path / "s1.jsonl").read_text().splitlines()[n - 1])
    done = run_cli("merge", str(bad), str(shard(fleet, "2/2", tmp_path / "s2.jsonl")), cwd=fleet)
    refused(done, f"{bad}:{number}:", key)



@pytest.mark.parametrize(("text", "expected"), [
    ("[" * 100_000, "nested deeper than"),
    ('{"rule_id": "team.max-len", "status": "fail", "status": "pass", "blocking": false}', "duplicate key 'status'"),
    ("7", "not a jsonl report line: a number, expected an object"),
    ('{"rule": "team.max-len"}', "neither a result"),
])
def test_a_line_that_is_not_a_report_line_is_exit_2_with_file_and_line(fleet, tmp_path, text, expected):
    rows = shard(fleet, "1/2", tmp_path / "s1.jsonl").read_text().splitlines(keepends=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(rows[:2]) + text + "\n" + "".join(rows[2:]))
    done = run_cli("merge", str(bad), str(shard(fleet, "2/2", tmp_path / "s2.jsonl")), cwd=fleet)
    refused(done, f"{bad}:3:", expected)


def test_empty_shards_merge_into_the_single_run(tmp_path):
    root = make_fleet(tmp_path, 3)
    single = run_cli("eval", "--facts", "fleet", "-f", "jsonl", cwd=root)
    shards = [shard(root, f"{i}/7", tmp_path / f"s{i}.jsonl") for i in range(1, 8)]
    assert sum(lines(s.read_text())[-1]["bundles"] == 0 for s in shards) >= 4
    done = run_cli("merge", *map(str, shards), cwd=root)
    assert done.returncode == single.returncode and done.stdout == single.stdout, done.stderr
