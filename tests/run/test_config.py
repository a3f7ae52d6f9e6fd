"""Finding and reading ``wfgy.yaml`` (`wfgy_rules.run.config`): the nearest one up to the
repository root, one line saying which, look-alikes pointed out, an optional header."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfgy_rules.errors import PolicyError
from wfgy_rules.run.config import load_config, locate_config


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "services" / "bot").mkdir(parents=True)
    return root


def test_the_nearest_config_up_to_the_repository_root_is_used_and_named(repo):
    (repo / "wfgy.yaml").write_text("fail_on: high\n")
    (repo.parent / "wfgy.yaml").write_text("fail_on: low\n")  # above the repository: never read
    found = locate_config(None, repo / "services" / "bot")
    assert (found.path, found.note) == (repo / "wfgy.yaml", "wfgy-rules: config ../../wfgy.yaml")
    (repo / "services" / "wfgy.yaml").write_text("fail_on: medium\n")
    assert locate_config(None, repo / "services" / "bot").note == "wfgy-rules: config ../wfgy.yaml"
    assert locate_config(None, repo / "services").note is None  # ./wfgy.yaml goes without saying


def test_no_config_says_only_the_builtin_packs_run_and_points_at_look_alikes(repo):
    (repo.parent / "wfgy.yaml").write_text("fail_on: low\n")
    found = locate_config(None, repo / "services")
    assert found.path is None
    assert found.note == "wfgy-rules: no wfgy.yaml in . or above (up to the repository root); only the built-in packs run, with default settings"
    (repo / "wgfy.yaml").write_text("fail_on: low\n")
    (repo / "services" / ".wfgy.yaml").write_text("fail_on: low\n")
    assert locate_config(None, repo / "services").note.endswith("; .wfgy.yaml, ../wgfy.yaml are not read: rename to wfgy.yaml")
    (repo / "wfgy.yaml").write_text("fail_on: low\n")
    assert locate_config(None, repo / "services").note == "wfgy-rules: config ../wfgy.yaml; .wfgy.yaml is not read: rename to wfgy.yaml"


def test_a_config_of_only_the_problem_map_settings_needs_no_header(tmp_path):
    path = tmp_path / "wfgy.yaml"
    path.write_text('ignore_versions: ["minor"]\nsecret_timeout: 90s\ncuda_probe: {mode: warn}\n')
    config = load_config(path)
    assert (config.ignore_versions, config.secret_timeout, config.cuda_mode, config.policies) == (("minor",), 90.0, "warn", ("builtin",))
    path.write_text("apiVersion: wfgy-rules/v2\nkind: Config\n")
    with pytest.raises(PolicyError) as info:
        load_config(path)
    assert [p.message for p in info.value.problems] == ["\"wfgy-rules/v2\" (string) must be 'wfgy-rules/v1'"]
    path.write_text("kind: Policy\nfail_on: low\n")
    with pytest.raises(PolicyError) as info:
        load_config(path)
    assert [p.message for p in info.value.problems] == ["\"Policy\" (string) must be 'Config'"]
