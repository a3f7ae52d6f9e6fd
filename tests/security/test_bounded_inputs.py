"""Every input is read with a bounded reader: a device or FIFO given where a document is
expected is refused within seconds (``st_size`` is 0 for ``/dev/zero``, and opening a FIFO
used to wait for a writer forever), and a file larger than the limit is refused before it
is read whole."""

from __future__ import annotations

import os

import pytest

from tests.helpers import TEAM_CONFIG, run_cli, write_project
from wfgy_rules.documents.bounded_read import InputRefused, read_bounded

QUICK = 20  # seconds: far more than a refusal needs, far less than reading /dev/zero


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("args", [
    ("validate", "{fifo}"),
    ("eval", "-c", "{fifo}"),
    ("eval", "-c", "/dev/zero"),
    ("eval", "-p", "/dev/zero"),
    ("eval", "--facts", "/dev/zero"),
    ("test", "{fifo}"),
    ("validate", "/dev/zero"),
])
def test_a_device_or_fifo_as_a_document_is_refused_quickly(project, fifo, args):
    done = run_cli(*(a.format(fifo=fifo) for a in args), cwd=project, timeout=QUICK)
    assert done.returncode == 2, done.stderr
    assert "is not a regular file" in done.stderr and "Traceback" not in done.stderr


def test_a_file_provider_pointed_at_dev_zero_is_an_error_result_not_a_crash(tmp_path):
    write_project(tmp_path)
    (tmp_path / "wfgy.yaml").write_text(TEAM_CONFIG.replace("serving.yaml", "/dev/zero"))
    done = run_cli("eval", "-f", "json", cwd=tmp_path, timeout=QUICK)
    assert done.returncode == 1 and '"status": "error"' in done.stdout and "not a regular file" in done.stdout


def test_a_declared_env_file_that_is_a_device_is_a_provider_error(tmp_path):
    (tmp_path / ".env.example").symlink_to("/dev/zero")
    (tmp_path / "wfgy.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Config\nproviders: {env: {declared: .env.example}}\n")
    done = run_cli("eval", "--only", "boot.env-required", "-f", "json", cwd=tmp_path, timeout=QUICK)
    assert done.returncode == 1 and "not a regular file" in done.stdout


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a" * 2048)
    assert read_bounded(big, 2048) == b"a" * 2048
    with pytest.raises(InputRefused, match="over the 2047-byte limit"):
        read_bounded(big, 2047)


def test_the_limit_is_configurable_for_documents(project):
    done = run_cli("eval", cwd=project, env={"WFGY_MAX_FILE_BYTES": "10"})
    assert done.returncode == 2 and "over the 10-byte limit (WFGY_MAX_FILE_BYTES)" in done.stderr
