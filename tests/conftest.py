"""Fixtures every test folder may use; plain helpers are in `tests.helpers`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The passing team project (`tests.helpers.write_project`) in the test's tmp directory."""
    return write_project(tmp_path)
