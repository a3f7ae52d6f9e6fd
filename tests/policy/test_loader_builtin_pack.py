"""``builtin:NAME`` names one shipped pack; an unknown name is an error listing the packs."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfgy_rules.errors import WfgyError
from wfgy_rules.policy.loader import load_policies


def test_one_builtin_pack_by_name(tmp_path: Path):
    policy_set = load_policies(["builtin:kubernetes"], tmp_path)
    assert [p.name for p in policy_set.policies] == ["kubernetes"]
    assert {r.id.split(".")[0] for r in policy_set.rules} == {"k8s"}


def test_a_pack_named_twice_loads_once(tmp_path: Path):
    names = [p.name for p in load_policies(["builtin", "builtin:kubernetes"], tmp_path).policies]
    assert names.count("kubernetes") == 1


def test_an_unknown_pack_names_the_shipped_ones(tmp_path: Path):
    with pytest.raises(WfgyError) as caught:
        load_policies(["builtin:kubernets"], tmp_path)
    assert caught.value.lines() == ["builtin:kubernets: no built-in pack 'kubernets'; shipped: boot-checkpoint, cuda-probe, kubernetes, prompt-lint, semvers-diff, serving-fit"]
