"""Names and values that are not valid Unicode (an environment variable holding byte 0xff, a
prompt file named with it, a ``\\ud800`` escape in a bundle) are facts like any other: every
command and format carries them, escaped, and none exits 3."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.helpers import cli_command

FORMATS = ["text", "json", "sarif", "junit", "github", "markdown"]


def run_bytes(args: list[str], cwd, extra: dict[bytes, bytes]) -> subprocess.CompletedProcess:
    env = {k.encode(): v.encode() for k, v in os.environ.items() if not k.startswith("WFGY_")}
    env[b"NO_COLOR"] = b"1"
    env.update(extra)
    return subprocess.run([*cli_command(), *args], cwd=cwd, env=env, capture_output=True, timeout=60)


@pytest.mark.parametrize("fmt", FORMATS)
def test_env_names_and_exposed_values_with_invalid_bytes(tmp_path, fmt):
    (tmp_path / "wfgy.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Config\nproviders: {env: {expose: [LOG_LEVEL]}}\n")
    done = run_bytes(["eval", "-f", fmt], tmp_path, {b"BAD\xffNAME": b"x", b"LOG_LEVEL": b"in\xfffo"})
    assert done.returncode in (0, 1), done.stderr
    assert b"Traceback" not in done.stderr and b"internal error" not in done.stderr
    if fmt in ("json", "sarif"):
        json.loads(done.stdout)


def test_facts_carry_the_name_escaped(tmp_path):
    (tmp_path / "wfgy.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Config\nproviders: {env: {expose: [LOG_LEVEL]}}\n")
    out = tmp_path / "facts.json"
    done = run_bytes(["facts", "--provider", "env", "-o", str(out)], tmp_path, {b"BAD\xffNAME": b"x", b"LOG_LEVEL": b"in\xfffo"})
    assert done.returncode == 0, done.stderr
    facts = json.loads(out.read_text())
    assert "BAD\udcffNAME" in facts["env"]["names"] and facts["env"]["values"]["LOG_LEVEL"] == "in\udcfffo"
    rerun = run_bytes(["eval", "--facts", str(out), "-f", "json"], tmp_path, {})
    assert rerun.returncode in (0, 1) and json.loads(rerun.stdout)["facts_digest"].startswith("sha256:")


def test_a_lone_surrogate_escape_in_a_bundle_is_judged_and_reported(tmp_path):
    bundle = tmp_path / "b.json"
    bundle.write_text('{"env": {"names": ["a\\ud800"], "declared": [], "missing": [], "empty": [], "near_misses": [], "values": {}, "kinds": {}, "keys": []}}')
    for fmt in FORMATS:
        done = run_bytes(["eval", "--defaults", "--facts", str(bundle), "--only", "boot.*", "-f", fmt], tmp_path, {})
        assert done.returncode in (0, 1) and b"internal error" not in done.stderr, (fmt, done.stderr)


def test_a_prompt_file_named_with_an_invalid_byte(tmp_path):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "a.txt").write_text("Hello {{ name }}\n")
    os.rename(prompts / "a.txt", os.path.join(os.fsencode(prompts), b"caf\xe9.txt"))
    for fmt in FORMATS:
        done = run_bytes(["eval", "--policy", "builtin", "--only", "prompt.*", "-f", fmt], tmp_path, {})
        assert done.returncode == 1 and b"internal error" not in done.stderr, (fmt, done.stderr)
        assert b"caf" in done.stdout
