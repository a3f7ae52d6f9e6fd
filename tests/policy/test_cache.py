"""The opt-in policy cache: used only with WFGY_CACHE_DIR, keyed by content, never trusted blindly."""

from __future__ import annotations

import json

from tests.helpers import (
    REPLICAS_RULE,
    TEAM_CONFIG,
    TEAM_POLICY,
    run_cli,
    write_project,
)

TEAM = TEAM_POLICY + REPLICAS_RULE
CONFIG = TEAM_CONFIG


def project(tmp_path):
    write_project(tmp_path, "max_model_len: 8192\nreplicas: 2\n", TEAM)


def test_nothing_is_cached_without_the_variable(tmp_path):
    project(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert run_cli("eval", cwd=tmp_path).returncode == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_cached_runs_give_the_same_report_and_a_changed_file_is_reparsed(tmp_path):
    project(tmp_path)
    cache = tmp_path / ".cache"
    env = {"WFGY_CACHE_DIR": str(cache)}
    first = run_cli("eval", "-f", "json", cwd=tmp_path, env=env)
    entries = list(cache.glob("*.json"))
    assert len(entries) == 1 and json.loads(entries[0].read_text())["format"] == "wfgy-policy-cache/1"
    second = run_cli("eval", "-f", "json", cwd=tmp_path, env=env)
    assert first.stdout == second.stdout and first.returncode == second.returncode == 1
    (tmp_path / "team.yaml").write_text(TEAM.replace("params: {context: 4096}", "params: {context: 9000}"))
    third = run_cli("eval", "-f", "json", cwd=tmp_path, env=env)
    assert third.returncode == 0 and len(list(cache.glob("*.json"))) == 2


def test_a_corrupt_or_foreign_entry_is_ignored(tmp_path):
    project(tmp_path)
    cache = tmp_path / ".cache"
    env = {"WFGY_CACHE_DIR": str(cache)}
    expected = run_cli("eval", "-f", "json", cwd=tmp_path, env=env).stdout
    (entry,) = cache.glob("*.json")
    data = json.loads(entry.read_text())
    data["digest"] = "0" * 64  # an entry that does not belong to this file's content
    data["data"]["rules"][0]["assert"] = "`true`"
    entry.write_text(json.dumps(data))
    assert run_cli("eval", "-f", "json", cwd=tmp_path, env=env).stdout == expected
    entry.write_text("{not json")
    assert run_cli("eval", "-f", "json", cwd=tmp_path, env=env).stdout == expected


def test_a_cached_policy_still_gets_every_meaning_check(tmp_path):
    project(tmp_path)
    env = {"WFGY_CACHE_DIR": str(tmp_path / ".cache")}
    assert run_cli("eval", cwd=tmp_path, env=env).returncode == 1
    (tmp_path / "wfgy.yaml").write_text(CONFIG.replace("policies: [./team.yaml]", "policies: [./team.yaml, ./team-copy.yaml]"))
    (tmp_path / "team-copy.yaml").write_text(TEAM.replace("name: team,", "name: team2,"))
    done = run_cli("eval", cwd=tmp_path, env=env)
    assert done.returncode == 2 and "duplicate rule id 'team.max-len'" in done.stderr
