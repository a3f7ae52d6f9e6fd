"""``wfgy-rules preflight``: real processes through the CLI (exec, waiting, signals), plus the
wait loop of `wfgy_rules.run.remedies` on a fake clock."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import cli_command, read_pty, run_cli
from wfgy_rules.documents.yamlio import load_text
from wfgy_rules.model import Bundle
from wfgy_rules.policy.compiler import compile_policy
from wfgy_rules.run.remedies import (
    dotenv_text,
    wait_for_blocking,
    write_termination_log,
)

SECRET = "s3cr3t-value"
POLICY = """apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: team}
rules:
  - id: team.gpu-present
    title: GPU present
    severity: high
    facts: [file]
    assert: "file.node.gpus > `0`"
    message: "node has {{ file.node.gpus }} GPUs"
    remedy: {action: fallback, env: {CUDA_VISIBLE_DEVICES: ""}, hint: Schedule the pod on a GPU node.}
  - id: team.max-len
    title: max length fits context
    severity: high
    facts: [file]
    assert: "file.node.max_model_len <= `4096`"
    message: "max_model_len {{ file.node.max_model_len }} > 4096"
    remedy: {action: abort}
  - id: team.secrets
    title: required secrets
    severity: high
    facts: [secrets]
    assert: {key: secrets.missing, op: empty}
    message: "missing secrets: {{ join(', ', secrets.missing) }}"
    remedy: {action: block}
"""
CONFIG = """apiVersion: wfgy-rules/v1
kind: Config
policies: [./team.yaml]
secret_timeout: %s
providers:
  file: {files: {node: node.yaml}}
  secrets: {required: [OPENAI_API_KEY], sources: [{type: dir, path: secrets}]}
"""
CHILD = "import os,json;print(json.dumps({'pid':os.getpid(),'cuda':os.environ.get('CUDA_VISIBLE_DEVICES')}))"


def project(root: Path, gpus: int = 1, max_len: int = 2048, secret: bool = True, timeout: str = "3s") -> Path:
    (root / "team.yaml").write_text(POLICY)
    (root / "wfgy.yaml").write_text(CONFIG % timeout)
    (root / "node.yaml").write_text(f"gpus: {gpus}\nmax_model_len: {max_len}\n")
    (root / "secrets").mkdir(exist_ok=True)
    if secret:
        (root / "secrets" / "OPENAI_API_KEY").write_text(SECRET)
    return root


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFGY_") and k != "CUDA_VISIBLE_DEVICES"}
    return {**env, "NO_COLOR": "1", **extra}


def popen(*args: str, cwd: Path, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([*cli_command(), *args], cwd=cwd, env=environ(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_passing_run_execs_the_command_in_the_same_process(tmp_path):
    proc = popen("preflight", "--", sys.executable, "-c", CHILD, cwd=project(tmp_path))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out) == {"pid": proc.pid, "cuda": None}
    assert err.endswith("3 passed, 0 failed\n") and "GPU present" not in err  # the report is on stderr; passes are counted
    verbose = popen("preflight", "--verbose", "--", sys.executable, "-c", CHILD, cwd=tmp_path)
    assert "✔ GPU present" in verbose.communicate(timeout=30)[1]  # and listed with --verbose
    done = run_cli("preflight", "--", sys.executable, "-c", "raise SystemExit(7)", cwd=tmp_path)
    assert done.returncode == 7


def test_options_of_the_command_are_not_ours(tmp_path):
    done = run_cli("preflight", "--output", "r.txt", sys.executable, "-c", "import sys;print(sys.argv[1:])", "--force", "-h", cwd=project(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['--force', '-h']" and done.stderr == ""


def test_fallback_sets_env_for_the_command_and_env_out(tmp_path):
    project(tmp_path, gpus=0)
    done = run_cli("preflight", "--env-out", "wfgy.env", "--report", "json=report.json", "--", sys.executable, "-c", CHILD, cwd=tmp_path, env={"CUDA_VISIBLE_DEVICES": "0"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cuda"] == ""
    assert "wfgy-rules: fallback: team.gpu-present failed → CUDA_VISIBLE_DEVICES='' for the started command and in wfgy.env" in done.stderr
    line = next(line for line in done.stderr.splitlines() if "GPU present" in line)
    assert line.startswith("⚠ GPU present ..") and line.endswith(" FALLBACK  team.gpu-present")
    assert 'CUDA_VISIBLE_DEVICES=""' in (tmp_path / "wfgy.env").read_text().splitlines()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outcome"] == "pass"
    assert [(r["rule_id"], r["status"], r["action"], r["blocking"]) for r in report["results"] if r["status"] != "pass"] == [
        ("team.gpu-present", "fail", "fallback", False)]


def test_env_out_survives_a_posix_shell(tmp_path):
    value = 'a "quoted" $HOME `id` \\ back\nslash'
    (tmp_path / "wfgy.env").write_text(dotenv_text({"ODD": value, "CUDA_VISIBLE_DEVICES": ""}))
    read = "import os,json;print(json.dumps([os.environ['ODD'],os.environ['CUDA_VISIBLE_DEVICES']]))"
    done = subprocess.run(["sh", "-c", f'set -a; . ./wfgy.env; set +a; exec "{sys.executable}" -c "$0"', read], cwd=tmp_path, capture_output=True, text=True, env=environ())
    assert json.loads(done.stdout) == [value, ""], done.stderr


def test_block_waits_until_the_secret_is_mounted(tmp_path):
    project(tmp_path, secret=False, timeout="3s")
    target = tmp_path / "secrets" / "OPENAI_API_KEY"
    started = time.monotonic()
    writer = subprocess.Popen([sys.executable, "-c", f"import time,pathlib;time.sleep(1);pathlib.Path({str(target)!r}).write_text({SECRET!r})"])
    proc = popen("preflight", "--report", "json=report.json", "--", sys.executable, "-c", "print('app started')", cwd=tmp_path)
    out, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - started
    writer.wait(timeout=10)
    assert proc.returncode == 0, err
    assert out == "app started\n"
    assert 1.0 <= elapsed < 3.0 + 2.0
    report = (tmp_path / "report.json").read_text()
    assert json.loads(report)["summary"]["pass"] == 3
    assert SECRET not in out + err + report


def test_a_secret_that_never_arrives_fails_after_the_timeout(tmp_path):
    project(tmp_path, secret=False, timeout="2s")
    log = tmp_path / "termination-log"
    log.touch()
    started = time.monotonic()
    proc = popen("preflight", "--", sys.executable, "-c", "open('marker', 'w').close()", cwd=tmp_path, WFGY_TERMINATION_LOG=str(log))
    out, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert 2.0 <= elapsed < 2.0 + 3.0
    assert not (tmp_path / "marker").exists() and out == ""
    assert "wfgy-rules: waiting for required secrets: missing secrets: OPENAI_API_KEY (2s left)" in err  # not a TTY: said once
    assert "• missing secrets: OPENAI_API_KEY; did not pass within 2s" in err
    assert "→ Aborting deploy" in err
    assert log.read_text() == "wfgy-rules preflight failed (1 blocking): team.secrets: missing secrets: OPENAI_API_KEY; did not pass within 2s"


def judged_at_once(root: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    """preflight with a 60s secret_timeout: a run that waits would not be back within 10s."""
    started = time.monotonic()
    done = run_cli("preflight", *args, "--", sys.executable, "-c", "open('marker', 'w').close()", cwd=root, timeout=10)
    return done, time.monotonic() - started


@pytest.mark.parametrize("sources, why", [
    ("[{type: env}]", "none of its sources can still deliver a secret: env (the process environment does not change while a process runs)"),
    ("[{type: env}, {type: dir, path: /no/such/wfgy-volume}]",
     "none of its sources can still deliver a secret: env (the process environment does not change while a process runs), "
     "dir:/no/such/wfgy-volume (not there; a volume is mounted before the process starts)"),
])
def test_no_wait_for_a_secret_that_cannot_arrive(tmp_path, sources, why):
    project(tmp_path, secret=False, timeout="60s")
    (tmp_path / "wfgy.yaml").write_text((tmp_path / "wfgy.yaml").read_text().replace("[{type: dir, path: secrets}]", sources))
    done, elapsed = judged_at_once(tmp_path)
    assert done.returncode == 1 and elapsed < 10 and not (tmp_path / "marker").exists()
    assert "waiting for" not in done.stderr
    assert f"• missing secrets: OPENAI_API_KEY; not waited for: {why}\n" in done.stderr


def test_no_wait_once_the_run_has_failed_unless_forced(tmp_path):
    project(tmp_path, secret=False, max_len=8192, timeout="60s")  # the secrets directory is there: it could arrive
    done, elapsed = judged_at_once(tmp_path)
    assert done.returncode == 1 and elapsed < 10 and not (tmp_path / "marker").exists()
    assert "• missing secrets: OPENAI_API_KEY; not waited for: the run already failed (team.max-len)\n" in done.stderr
    (tmp_path / "wfgy.yaml").write_text((tmp_path / "wfgy.yaml").read_text().replace("60s", "1s"))
    started = time.monotonic()
    forced = run_cli("preflight", "--force", "--", sys.executable, "-c", "open('marker', 'w').close()", cwd=tmp_path)
    assert forced.returncode == 0 and (tmp_path / "marker").exists()
    assert time.monotonic() - started >= 1.0  # CMD starts anyway: its secret is worth the wait
    assert "• missing secrets: OPENAI_API_KEY; did not pass within 1s\n" in forced.stderr


def test_on_a_terminal_the_wait_counts_down_in_place(tmp_path):
    project(tmp_path, secret=False, timeout="1s")
    primary, secondary = pty.openpty()
    done = subprocess.run([*cli_command(), "preflight", "--output", "report.txt"], cwd=tmp_path, env=environ(), stderr=secondary, timeout=30)
    os.close(secondary)
    shown = read_pty(primary)
    assert done.returncode == 1
    assert shown == "\r\033[Kwfgy-rules: waiting for required secrets: missing secrets: OPENAI_API_KEY (1s left)\r\033[K"


def test_help_teaches_remedies_and_exit_codes():
    done = run_cli("preflight", "--help")
    assert done.returncode == 0
    shown = " ".join(done.stdout.split())  # help is wrapped to the terminal's width
    for text in ("[-- CMD ARGS...]", "fallback remedy.env", "--env-out FILE", "127 CMD not found", "130 interrupted", "termination-log",
                 "Not waited for (the message says why) when nothing it reads can still arrive", "--defaults Read no wfgy.yaml"):
        assert text in shown, text


def test_ctrl_c_while_waiting_exits_130_without_a_traceback(tmp_path):
    proc = popen("preflight", "--", sys.executable, "-c", "open('marker', 'w').close()", cwd=project(tmp_path, secret=False, timeout="60s"))
    assert proc.stderr is not None
    assert "waiting for required secrets" in proc.stderr.readline()
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert "Traceback" not in out + err
    assert not (tmp_path / "marker").exists()


def test_a_failing_abort_rule_stops_the_deploy_unless_forced(tmp_path):
    project(tmp_path, max_len=8192)
    log = tmp_path / "termination-log"
    log.touch()
    marker = [sys.executable, "-c", "open('marker', 'w').close()"]
    done = run_cli("preflight", "--", *marker, cwd=tmp_path, env={"WFGY_TERMINATION_LOG": str(log)})
    assert done.returncode == 1 and not (tmp_path / "marker").exists()
    assert "✖ max length fits context" in done.stderr and done.stdout == ""
    assert log.read_text() == "wfgy-rules preflight failed (1 blocking): team.max-len: max_model_len 8192 > 4096"
    done = run_cli("preflight", "--force", "--", *marker, cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / "marker").exists()
    assert "→ Forced: 1 blocking result(s) overridden by --force" in done.stderr


def test_a_command_that_cannot_run_is_one_line(tmp_path):
    project(tmp_path)
    done = run_cli("preflight", "--output", "report.txt", "--", "no-such-command-wfgy", "--flag", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (127, "wfgy-rules: cannot run 'no-such-command-wfgy': No such file or directory\n")
    done = run_cli("preflight", "--output", "report.txt", "--", "./node.yaml", cwd=tmp_path)  # not executable
    assert (done.returncode, done.stderr) == (126, "wfgy-rules: cannot run './node.yaml': Permission denied\n")


def test_without_a_command_it_only_judges(tmp_path):
    project(tmp_path, gpus=0)
    done = run_cli("preflight", "--env-out", "wfgy.env", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == ""
    assert "in wfgy.env" in done.stderr and (tmp_path / "wfgy.env").exists()
    (tmp_path / "facts.json").write_text(json.dumps({"file": {"node": {"gpus": 1, "max_model_len": 1}}, "secrets": {"missing": ["X"]}}))
    started = time.monotonic()
    done = run_cli("preflight", "--facts", "facts.json", cwd=tmp_path)  # facts from a file cannot change: no waiting
    assert done.returncode == 1 and time.monotonic() - started < 2.0
    assert "• missing secrets: X\n" in done.stderr


def test_invalid_input_is_exit_2_and_reaches_the_termination_log(tmp_path):
    project(tmp_path)
    log = tmp_path / "termination-log"
    log.touch()
    done = run_cli("preflight", "--fail-on", "urgent", "--", "true", cwd=tmp_path, env={"WFGY_TERMINATION_LOG": str(log)})
    assert done.returncode == 2 and "--fail-on 'urgent' is not one of" in done.stderr
    assert log.read_text().startswith("wfgy-rules preflight: invalid input: --fail-on 'urgent' is not one of")


# --- the wait loop on a fake clock ---------------------------------------------------------

BLOCK = """apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: t}
rules:
  - {id: t.secret, title: secret, severity: high, facts: [secrets], assert: "secrets.ok", message: "not yet", remedy: {action: block%s}}
  - {id: t.other, title: other, severity: high, facts: [file], assert: "file.ok"}
"""


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def waiting(remedy: str, ok_after: float | None, timeout: float = 30.0):
    from wfgy_rules.run.engine import evaluate

    rules = list(compile_policy(load_text(BLOCK % remedy, "p.yaml"), 0, frozenset({"secrets", "file"})).rules)
    fake = FakeTime()
    start = fake.now
    checks: list[tuple[float, list[str]]] = []

    def regather(names):
        checks.append((fake.now - start, names))
        return Bundle({"secrets": {"ok": ok_after is not None and fake.now - start >= ok_after}})

    bundle = Bundle({"secrets": {"ok": False}, "file": {"ok": False}})
    results, final = wait_for_blocking(rules, evaluate(rules, bundle), bundle, regather, default_timeout=timeout, clock=fake.clock, sleep=fake.sleep)
    return results, final, checks, fake


def test_wait_backs_off_and_never_sleeps_past_the_deadline():
    results, final, checks, fake = waiting("", ok_after=None)
    assert [at for at, _ in checks] == [2.0, 5.0, 9.5, 16.25, 26.25, 30.0]
    assert {tuple(names) for _, names in checks} == {("secrets",)}  # only the block rule's provider
    assert fake.now - 100.0 == 30.0
    assert [(r.rule_id, r.status.value, r.message) for r in results] == [
        ("t.secret", "fail", "not yet; did not pass within 30s"), ("t.other", "fail", "other")]
    assert final.facts["file"] == {"ok": False}  # untouched providers keep their facts


def test_wait_stops_at_the_first_passing_check_with_the_rules_own_timing():
    results, final, checks, _ = waiting(", interval: 1s, timeout: 5s", ok_after=2.0, timeout=90.0)
    assert [at for at, _ in checks] == [1.0, 2.5]
    assert results[0].status.value == "pass" and final.facts["secrets"] == {"ok": True}


def test_termination_log_is_written_only_where_it_exists_and_is_cut_at_4096_bytes(tmp_path):
    assert write_termination_log("x", str(tmp_path / "absent")) is False and not (tmp_path / "absent").exists()
    log = tmp_path / "log"
    log.touch()
    assert write_termination_log("é" * 3000 + "\nmore", str(log)) is True
    assert log.read_bytes() == ("é" * 2048).encode()
    assert write_termination_log("x", str(tmp_path)) is False  # a directory: no exception


@pytest.mark.parametrize("name", ["1BAD", "A-B", ""])
def test_env_out_refuses_names_a_shell_cannot_set(name):
    with pytest.raises(Exception, match="not a valid environment variable name"):
        dotenv_text({name: "x"})
