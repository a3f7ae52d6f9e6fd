"""Fixtures of the reliability and security suite: a small project, and a plugin
distribution (found through the ``wfgy_rules.providers`` entry point like any third-party
plugin) whose providers hang, crash, or declare a broken config schema."""

from __future__ import annotations

from pathlib import Path

import pytest

PLUGIN_DIST = "wfgy_test_plugins-0.1.dist-info"
PLUGIN_ENTRY_POINTS = """\
[wfgy_rules.providers]
hang = wfgy_test_plugins:Hang
boom = wfgy_test_plugins:Boom
badschema = wfgy_test_plugins:BadSchema
"""
PLUGIN_MODULE = '''\
"""Test providers: one that hangs, one that crashes, one with a broken config schema."""
import os
import time
from pathlib import Path


class Hang:
    config_schema = {"type": "object"}

    def collect(self, config, ctx):
        marker = os.environ.get("HANG_STARTED_FILE")
        if marker:
            Path(marker).write_text("started")
        time.sleep(60)
        return {"ok": True}


class Boom:
    config_schema = {"type": "object"}

    def collect(self, config, ctx):
        raise RuntimeError("kaboom in the boom provider")


class BadSchema:
    config_schema = "not a schema"  # a plugin bug: the schema must be a JSON Schema object

    def collect(self, config, ctx):
        return {}
'''


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A directory holding an installed-looking plugin distribution; put it on PYTHONPATH."""
    root = tmp_path / "site"
    (root / PLUGIN_DIST).mkdir(parents=True)
    (root / PLUGIN_DIST / "entry_points.txt").write_text(PLUGIN_ENTRY_POINTS)
    (root / PLUGIN_DIST / "METADATA").write_text("Metadata-Version: 2.1\nName: wfgy-test-plugins\nVersion: 0.1\n")
    (root / "wfgy_test_plugins.py").write_text(PLUGIN_MODULE)
    return root
