"""Provider discovery: the lean entry-point reader agrees with importlib.metadata."""

from __future__ import annotations

from importlib.metadata import entry_points as reference

from wfgy_rules.providers import registry
from wfgy_rules.providers.base import ENTRY_POINT_GROUP
from wfgy_rules.providers.entrypoints import entry_points


def test_reader_agrees_with_importlib_metadata():
    for group in (ENTRY_POINT_GROUP, "console_scripts"):
        ours = sorted((p.name, p.value) for p in entry_points(group))
        theirs = sorted((p.name, p.value) for p in reference(group=group))
        assert ours == theirs, group


def test_builtin_providers_are_registered_and_load():
    assert {"file", "model_card", "runtime", "env", "secrets", "nvml", "prompts"} <= registry.names()
    for name in registry.names():
        provider = registry.load(name)
        assert isinstance(provider.config_schema, dict) and callable(provider.collect)
