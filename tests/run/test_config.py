"""Finding and reading ``wfgy.yaml`` (`wfgy_rules.run.config`): the nearest one up to the
repository root, one line saying which, look-alikes pointed out, an optional header."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfgy_rules.errors import PolicyError
from wfgy_rules.run.config import load_config, locate_config
from wfgy_rules.run.config_paths import Unexpanded, expand


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


@pytest.mark.parametrize(("text", "expanded"), [
    ("${DIR}/model", "/srv/model"),
    ("${UNSET:-models/tiny}", "models/tiny"),
    ("${EMPTY:-fallback}", "fallback"),  # unset or empty takes the default, as in a shell
    ("${EMPTY:-}x", "x"),
    ("${DIR:-}", "/srv"),
    ("a$$b$${DIR}", "a$b${DIR}"),
    ("no variables", "no variables"),
])
def test_path_expansion(text, expanded):
    assert expand(text, {"DIR": "/srv", "EMPTY": ""}) == expanded


@pytest.mark.parametrize(("text", "message"), [
    ("${UNSET}", "${UNSET} is not set and has no default (write ${UNSET:-DEFAULT})"),
    ("${EMPTY}/x", "${EMPTY} is empty and has no default (write ${EMPTY:-DEFAULT})"),
    ("$DIR/x", "$DIR: write ${DIR} (only the braced form is expanded), or $$ for a literal $"),
    ("${DIR-x}", "a ${…} that is not ${NAME} or ${NAME:-default} (write $$ for a literal $)"),
    ("${UNSET:-${DIR}}", "${UNSET:-…}: a default is taken as written; a ${…} inside it is not expanded"),
    ("cost$", "a lone $ (write $$ for a literal $)"),
    ("${API_TOKEN}", "${API_TOKEN}: API_TOKEN is, or may hold, a secret; a secret never goes into a path"),
    ("${URL}", "${URL}: URL is, or may hold, a secret; a secret never goes into a path"),
    ("${APP_SECRET_FILE}", "${APP_SECRET_FILE}: APP_SECRET_FILE is, or may hold, a secret; a secret never goes into a path"),
])
def test_path_expansion_errors_name_the_variable_never_its_value(text, message):
    environ = {"DIR": "/srv", "EMPTY": "", "API_TOKEN": "/x", "URL": "postgres://admin:pw@db/prod", "APP_SECRET_FILE": "/run/app"}
    with pytest.raises(Unexpanded) as info:
        expand(text, environ, secret_names=frozenset({"APP_SECRET_FILE"}))
    assert str(info.value) == message


def test_a_base_is_merged_key_by_key_lists_replaced_and_paths_kept_relative_to_it(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base.yaml").write_text(
        "policies: [builtin, policies]\nfail_on: high\nrules:\n  a.b: {severity: high, params: {x: 1, y: [1, 2]}}\n"
        "providers:\n  runtime: {model_dir: models, packages: [torch]}\n  prompts: {paths: ['prompts/**/*'], syntax: {'prompts/*.txt': jinja2}}\n"
        "  kubernetes: {paths: ['-', /abs/manifests]}\n")
    (tmp_path / "wfgy.yaml").write_text(
        "extends: shared/base.yaml\nfail_on: low\nrules:\n  a.b: {params: {y: [3]}}\n"
        "providers:\n  runtime: {packages: [vllm]}\n  prompts: {vars: prompt_vars.yaml}\n")
    config = load_config(tmp_path / "wfgy.yaml", documents=False)
    assert (config.policies, config.fail_on.name, config.rules) == (("builtin", "shared/policies"), "low", {"a.b": {"severity": "high", "params": {"x": 1, "y": [3]}}})
    assert config.providers == {
        "runtime": {"model_dir": "shared/models", "packages": ["vllm"]},
        "prompts": {"paths": ["shared/prompts/**/*"], "syntax": {"shared/prompts/*.txt": "jinja2"}, "vars": "prompt_vars.yaml"},
        "kubernetes": {"paths": ["-", "/abs/manifests"]},
    }
    assert (config.path, config.base_dir) == (str(tmp_path / "wfgy.yaml"), tmp_path)
