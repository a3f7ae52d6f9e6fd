"""The exit-code contract, one row per (command, code), through the real CLI.

0 passed (or forced) · 1 the run failed · 2 invalid input · 3 internal error ·
130 interrupted (see test_bounded_providers) · preflight: 126/127 when CMD cannot start,
and CMD's own code once it runs. Every command listed by ``wfgy-rules --help`` has rows
here, and its ``--help`` names the codes it can exit with. No traceback, whatever the code.

Exit 3 is reached without any monkeypatching through a plugin whose ``config_schema`` is
not a JSON Schema: a bug in installed code, not in the user's input.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import TEAM_CONFIG, TEAM_POLICY, run_cli

TEST_FILE = """\
apiVersion: wfgy-rules/v1
kind: PolicyTest
policies: [team.yaml]
cases:
  - name: long context fails
    facts: {file: {serving: {max_model_len: 9000}}}
    expect: {team.max-len: %s}
"""


def _fail(root: Path) -> None:
    (root / "serving.yaml").write_text("max_model_len: 8192\n")


def _bad_policy(root: Path) -> None:
    (root / "team.yaml").write_text(TEAM_POLICY.replace("assert:", "asert:"))


def _broken_plugin(root: Path) -> None:
    (root / "wfgy.yaml").write_text(TEAM_CONFIG + "  badschema: {x: 1}\n")


def _attested(root: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    (root / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (root / "k.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert run_cli("eval", "--attest", "v.json", "--sign-key", "k.pem", cwd=root).returncode in (0, 1)


def _shards(root: Path, serving: str = "max_model_len: 2048\n") -> None:
    (root / "fleet").mkdir()
    for name in ("a", "b", "c"):
        (root / "fleet" / f"{name}.json").write_text('{"file": {"serving": {"max_model_len": %d}}}' % (9000 if "8192" in serving and name == "b" else 2048))
    for index in (1, 2):
        assert run_cli("eval", "--facts", "fleet", "-f", "jsonl", "--shard", f"{index}/2", "-o", f"s{index}.jsonl", cwd=root).returncode in (0, 1)


def _failing_shards(root: Path) -> None:
    _shards(root, "max_model_len: 8192\n")


def _attested_failing(root: Path) -> None:
    _fail(root)
    _attested(root)


def _attested_tampered(root: Path) -> None:
    _attested(root)
    text = (root / "v.json").read_text()
    (root / "v.json").write_text(text.replace('"payload": "ey', '"payload": "ez'))


def _no_config(root: Path) -> None:
    (root / "wfgy.yaml").unlink()


def _tests(expect: str):
    def setup(root: Path) -> None:
        (root / "team.test.yaml").write_text(TEST_FILE % expect)
    return setup


def _not_executable(root: Path) -> None:
    (root / "notexec").write_text("#!/bin/sh\nexit 0\n")
    (root / "notexec").chmod(0o644)


ROWS = [
    ("eval", [], None, 0),
    ("eval", ["--force"], _fail, 0),
    ("eval", [], _fail, 1),
    ("eval", [], _bad_policy, 2),
    ("eval", ["--format", "xml"], None, 2),
    ("eval", [], _broken_plugin, 3),
    ("preflight", [], None, 0),
    ("preflight", ["--", "true"], None, 0),
    ("preflight", [], _fail, 1),
    ("preflight", ["--", "true"], _fail, 1),
    ("preflight", [], _bad_policy, 2),
    ("preflight", [], _broken_plugin, 3),
    ("preflight", ["--", "notexec"], _not_executable, 126),
    ("preflight", ["--", "./notexec"], _not_executable, 126),
    ("preflight", ["--", "no-such-command-wfgy"], None, 127),
    ("preflight", ["--", "sh", "-c", "exit 7"], None, 7),  # CMD's own exit code
    ("facts", [], None, 0),
    ("facts", ["--provider", "nope"], None, 2),
    ("facts", [], _broken_plugin, 3),
    ("validate", [], None, 0),
    ("validate", ["team.yaml"], _bad_policy, 2),
    ("test", ["team.test.yaml"], _tests("fail"), 0),
    ("test", ["team.test.yaml"], _tests("pass"), 1),
    ("test", ["team.test.yaml"], _tests("maybe"), 2),
    ("list", [], None, 0),
    ("list", ["--format", "xml"], None, 2),
    ("explain", ["team.max-len"], None, 0),
    ("explain", ["team.nope"], None, 2),
    ("lock", ["--output", "card.json"], None, 0),
    ("lock", ["--model-dir", "nope", "--output", "card.json"], None, 2),
    ("schema", ["policy"], None, 0),
    ("schema", ["nope"], None, 2),
    ("serve", ["--cert", "nope.pem", "--key", "nope.pem"], None, 2),
    ("serve", ["--cert", "wfgy.yaml", "--key", "wfgy.yaml"], None, 2),
    ("diff", [], None, 0),
    ("diff", ["--facts", "nope.json"], None, 2),
    ("diff", [], _broken_plugin, 3),
    ("query", ["file.serving"], None, 0),
    ("query", ["version_cmp(file.serving.max_model_len, 'x')"], None, 1),
    ("query", ["nope.x"], None, 2),
    ("query", ["file.serving"], _broken_plugin, 3),
    ("init", [], _no_config, 0),
    ("init", [], None, 2),
    ("merge", ["s1.jsonl", "s2.jsonl"], _shards, 0),
    ("merge", ["s1.jsonl", "s2.jsonl"], _failing_shards, 1),
    ("merge", ["s1.jsonl"], _shards, 2),
    ("verify-attestation", ["v.json", "--key", "k.pub"], _attested, 0),
    ("verify-attestation", ["v.json", "--key", "k.pub", "--require-pass"], _attested_failing, 1),
    ("verify-attestation", ["v.json", "--key", "k.pub"], _attested_tampered, 1),
    ("verify-attestation", ["v.json", "--key", "nope.pub"], _attested, 2),
]


def _id(row) -> str:
    command, args, setup, code = row
    return f"{command}-{code}-{setup.__name__.strip('_') if setup else 'ok'}-{'_'.join(args)[:20]}"


@pytest.mark.parametrize("command,args,setup,code", ROWS, ids=[_id(r) for r in ROWS])
def test_exit_code(project, plugin_path, command, args, setup, code):
    if setup:
        setup(project)
    env = {"PYTHONPATH": str(plugin_path), "PATH": f"{project}:/usr/bin:/bin"}
    done = run_cli(command, *args, cwd=project, env=env)
    assert done.returncode == code, (done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stdout + done.stderr
    if code in (2, 3):
        assert done.stderr.strip(), "an error exit explains itself on stderr"
    if code == 3:
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("internal error: ") and line.endswith("(set WFGY_DEBUG=1 for a traceback)")


def _commands() -> list[str]:
    text = run_cli("--help").stdout
    section = text.split("Commands:", 1)[1]
    names = []
    for line in section.splitlines()[1:]:
        if not line.strip():
            break
        names.append(line.split()[0])
    return names


def test_every_command_has_rows_and_its_help_names_its_exit_codes():
    commands = _commands()
    assert sorted(commands) == sorted({row[0] for row in ROWS})
    for command in commands:
        text = " ".join(run_cli(command, "--help").stdout.split())
        assert "Exit codes:" in text, command
        codes = text.split("Exit codes:", 1)[1]
        for code in sorted({row[3] for row in ROWS if row[0] == command and row[3] != 7}):
            assert re.search(rf"(?<![\d.]){code}(?![\d.])", codes), (command, code, codes)


# ---------------------------------------------------------------- in process


@pytest.mark.parametrize("raised,code,stderr", [
    (RuntimeError("the reporter fell over"), 3, "internal error: RuntimeError: the reporter fell over (set WFGY_DEBUG=1 for a traceback)\n"),
    (KeyboardInterrupt(), 130, "interrupted\n"),
])
def test_main_maps_unexpected_failures_to_one_line(monkeypatch, capsys, raised, code, stderr):
    from wfgy_rules import cli
    from wfgy_rules.commands import evaluate

    def explode(options, **_):
        raise raised

    monkeypatch.delenv("WFGY_DEBUG", raising=False)
    monkeypatch.setattr(evaluate, "run", explode)
    with pytest.raises(SystemExit) as info:
        cli.main(["eval"])
    assert info.value.code == code
    captured = capsys.readouterr()
    assert captured.err == stderr and "Traceback" not in captured.out


def test_wfgy_debug_shows_the_traceback_of_an_internal_error(monkeypatch):
    from wfgy_rules import cli
    from wfgy_rules.commands import evaluate

    monkeypatch.setenv("WFGY_DEBUG", "1")
    monkeypatch.setattr(evaluate, "run", lambda options, **_: (_ for _ in ()).throw(RuntimeError("debug me")))
    with pytest.raises(RuntimeError, match="debug me"):
        cli.main(["eval"])
