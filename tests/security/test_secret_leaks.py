"""No secret value ever leaves the process (SPEC §10): not in facts, reports, logs, errors,
written files, in any format, from any command.

A canary is planted everywhere a secret lives — the environment (``OPENAI_API_KEY``,
``ANTHROPIC_API_KEY``, ``HF_TOKEN``, a variable declared ``secret``), files of a ``dir``
secret source, a dotenv source (including a malformed line), example values in
``.env.example`` — and a hostile policy tries to get it out: it interpolates
``{{ env.values.OPENAI_API_KEY }}``, ``{{ env }}``, ``{{ secrets }}`` and ``{{ @ }}`` into
its message, compares a secret to get it into the evidence, and iterates over every
variable name. Then every command runs, in every format, and stdout, stderr and every file
written are searched for the canary. Fact bundles given with ``--facts`` are user input and
not searched.

The project loads the Boot Checkpoint pack (the built-in rules about secrets) and the
hostile policy; one run adds every built-in pack, whose other providers read no secrets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import dedent, run_cli
from wfgy_rules.reporters import FORMATS
from wfgy_rules.resources import resource_path

CANARY = "sk-ant-CANARY-7f3a9c"
PLAIN_CANARY = "plain-CANARY-5e1d"  # no credential shape: only its `secret` declaration protects it
MARK = "CANARY"

ENV = {
    "OPENAI_API_KEY": CANARY,
    "ANTHROPIC_API_KEY": CANARY,
    "HF_TOKEN": "hf_" + MARK + "x",
    "APP_PEPPER": PLAIN_CANARY,
    "OPEN_API_KEY": CANARY,  # a misspelt duplicate
    "MISC_SETTING": CANARY,  # a credential under an innocent name
    "LOG_LEVEL": "info",
}

CONFIG = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: [%s, ./policies]
secret_timeout: 0s
providers:
  env: {declared: .env.example, expose: [LOG_LEVEL]}
  secrets:
    required: [OPENAI_API_KEY, ANTHROPIC_API_KEY, HF_TOKEN, DB_PASSWORD, SIGNING_KEY, NOT_THERE]
    sources: [{type: env}, {type: dir, path: secrets}, {type: dotenv, path: .env}, {type: dotenv, path: broken.env}]
  file: {files: {serving: serving.yaml}}
""" % resource_path("rules/boot-checkpoint.yaml").as_posix()

LEAKY_POLICY = """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: leaky}
rules:
  - id: leaky.interpolate
    title: tries to print secrets
    severity: high
    facts: [env, secrets]
    assert: "`false`"
    message: "openai={{ env.values.OPENAI_API_KEY }} env={{ env }} secrets={{ secrets }} all={{ @ }}"
  - id: leaky.evidence
    title: tries to compare a secret
    severity: high
    facts: [env]
    assert: {key: env.values.OPENAI_API_KEY, op: eq, value: guess}
  - id: leaky.names
    title: lists every variable
    severity: low
    facts: [env]
    for_each: env.names
    assert: "`false`"
    message: "{{ item }} #{{ index }}"
"""

LEAKY_TEST = """\
apiVersion: wfgy-rules/v1
kind: PolicyTest
policies: [leaky.yaml]
cases:
  - name: fails on any facts
    facts: {env: {values: {}, names: [A]}, secrets: {}}
    expect: {leaky.interpolate: fail, leaky.evidence: fail}
"""


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    """A project where secrets live in every supported place, and a policy that wants them."""
    root = tmp_path / "project"
    (root / "policies").mkdir(parents=True)
    (root / "secrets").mkdir()
    (root / "wfgy.yaml").write_text(CONFIG)
    (root / "policies" / "leaky.yaml").write_text(LEAKY_POLICY)
    (root / "policies" / "leaky.test.yaml").write_text(LEAKY_TEST)
    (root / "serving.yaml").write_text("max_model_len: 2048\n")
    (root / ".env.example").write_text(dedent(f"""
        OPENAI_API_KEY={CANARY}      # secret
        ANTHROPIC_API_KEY={CANARY}   # secret
        HF_TOKEN=hf_{MARK}x          # secret
        APP_PEPPER={PLAIN_CANARY}    # secret
        LOG_LEVEL=info
    """))
    (root / "secrets" / "DB_PASSWORD").write_text(CANARY + "\n")
    (root / "secrets" / "OPENAI_API_KEY").write_text(CANARY)
    (root / ".env").write_text(f"SIGNING_KEY={CANARY}\nexport DB_PASSWORD='{CANARY}'\n")
    (root / "broken.env").write_text(f"SIGNING_KEY={CANARY}\n{CANARY} pasted on a line of its own\n")
    (root / "broken.env.example").write_text(f"LOG_LEVEL=info\nthis line holds {CANARY} and is not an entry\n")
    return root


class Scanner:
    """Runs commands in the project and records every place the canary shows up."""

    def __init__(self, root: Path, out: Path):
        self.root, self.out = root, out
        self.inputs = {p for p in root.rglob("*")}
        self.leaks: list[str] = []
        self.codes: dict[str, int] = {}

    def run(self, *args: str, env: dict[str, str] | None = None) -> "object":
        done = run_cli(*args, cwd=self.root, env={**ENV, **(env or {})})
        label = " ".join(args)
        self.codes[label] = done.returncode
        for stream, text in (("stdout", done.stdout), ("stderr", done.stderr)):
            if MARK in text:
                line = next(line for line in text.splitlines() if MARK in line)
                self.leaks.append(f"{label}: {stream}: {line[:200]}")
        assert "Traceback" not in done.stderr, (label, done.stderr)
        return done

    def scan_files(self) -> None:
        written = [p for p in self.root.rglob("*") if p not in self.inputs] + list(self.out.rglob("*"))
        for path in written:
            if path.is_file() and MARK in path.read_text(encoding="utf-8", errors="replace"):
                self.leaks.append(f"written file {path.name} holds the canary")


@pytest.mark.slow  # every command and format end to end: run by .ci/run, left out of the fast loop
def test_no_command_and_no_format_leaks_a_secret(vault, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    scan = Scanner(vault, out)
    assert sorted(FORMATS) == sorted(set(FORMATS))  # discovered, not hard-coded
    for fmt in FORMATS:
        scan.run("eval", "--format", fmt)
    reports = [f"--report={fmt}={out / ('report.' + fmt)}" for fmt in FORMATS]
    scan.run("eval", "--output", str(out / "main.txt"), *reports)
    scan.run("eval", "--force", "--format", "json", "--output", str(out / "forced.json"))
    scan.run("eval", "--policy", "builtin", "--policy", "policies", "--format", "json")
    scan.run("facts")
    scan.run("facts", "--provider", "env", "--provider", "secrets", "--output", str(out / "facts.json"))
    for rule in ("leaky.interpolate", "leaky.evidence", "boot.key-kind", "boot.secrets-present", "boot.env-misspelled"):
        scan.run("explain", rule)
    scan.run("list")
    scan.run("list", "--format", "json")
    scan.run("validate")
    scan.run("validate", "wfgy.yaml", "policies/leaky.yaml", "policies/leaky.test.yaml")
    scan.run("test", "policies")
    termination = out / "termination-log"
    termination.write_text("")
    scan.run("preflight", "--format", "json", env={"WFGY_TERMINATION_LOG": str(termination)})
    scan.run("preflight", "--force", "--env-out", str(out / "env.out"), "--", "true")
    scan.run("lock", "--output", str(out / "model-card.json"))
    scan.run("schema", "report")
    for fmt in ("text", "json", "markdown"):
        scan.run("diff", "--format", fmt, "--all")
    for expression in ("@", "env", "secrets", "env.values", "[env, secrets]"):
        scan.run("query", expression)
    scan.run("query", "params", "--rule", "leaky.evidence")
    scan.run("eval", "--attest", str(out / "verdict.json"))
    scan.run("preflight", "--force", "--attest", str(out / "preflight.statement.json"))
    scan.run("diff", "--facts", str(out / "facts.json"), "--output", str(out / "diff.md"), "--format", "markdown")
    scan.run("diff", "--facts", str(out / "facts.json"), "--facts", str(out / "facts.json"), "--all", "--format", "json")
    scan.scan_files()
    assert scan.leaks == []
    # The runs really did what they claim: the hostile rules were evaluated and failed.
    assert scan.codes["eval --format json"] == 1 and scan.codes["test policies"] == 0
    assert termination.read_text().startswith("wfgy-rules preflight failed")
    assert (out / "report.sarif").stat().st_size > 0 and (out / "facts.json").stat().st_size > 0


@pytest.mark.parametrize("config_change,env,expected", [
    ("expose: [LOG_LEVEL]", {}, None),
    ("expose: [LOG_LEVEL, APP_PEPPER]", {}, "refusing to expose secret variable APP_PEPPER"),
    ("expose: [OPENAI_API_KEY]", {}, "refusing to expose secret variable OPENAI_API_KEY"),
    ("expose: [SIGNING_KEY]", {"SIGNING_KEY": "x"}, "refusing to expose secret variable SIGNING_KEY"),
    ("expose: [MISC_SETTING]", {}, "refusing to expose secret variable MISC_SETTING"),
])
def test_exposing_a_secret_is_refused_with_a_clear_error(vault, config_change, env, expected):
    """``expose`` of a variable declared secret, named like a credential, or holding one makes
    the env provider fail: every rule that reads ``env`` is an ``error`` naming the refusal,
    the other rules still run, and the value appears nowhere."""
    (vault / "wfgy.yaml").write_text(CONFIG.replace("expose: [LOG_LEVEL]", config_change))
    scan = Scanner(vault, vault / "policies")
    done = scan.run("eval", "--format", "json", env=env)
    results = json.loads(done.stdout)["results"]
    env_rules = [r for r in results if r["rule_id"].startswith(("leaky.", "boot.env", "boot.key"))]
    other = [r for r in results if r["rule_id"] == "boot.secrets-present"]
    assert env_rules and other and other[0]["status"] == "fail"  # NOT_THERE is missing; the rule still ran
    if expected is None:
        assert all(r["status"] != "error" for r in env_rules)
        facts = scan.run("facts", "--provider", "env", env=env)
        assert json.loads(facts.stdout)["env"]["values"] == {"LOG_LEVEL": "info"}  # a non-secret is shown
    else:
        assert {r["status"] for r in env_rules} == {"error"}
        assert all(r["message"] == f"provider 'env' failed: {expected}" for r in env_rules)
        facts = scan.run("facts", "--provider", "env", env=env)
        assert json.loads(facts.stdout) == {"_errors": {"env": f"provider 'env' failed: {expected}"}}
    scan.run("explain", "leaky.interpolate", env=env)
    assert scan.leaks == []


def test_errors_about_files_holding_secrets_never_quote_them(vault):
    """A malformed line in ``.env.example`` or in a dotenv source is reported by file and
    line, never by its text (such files sometimes hold real keys)."""
    (vault / "wfgy.yaml").write_text(CONFIG.replace("declared: .env.example", "declared: broken.env.example"))
    scan = Scanner(vault, vault / "policies")
    done = scan.run("eval", "--format", "json")
    messages = {r["message"] for r in json.loads(done.stdout)["results"] if r["rule_id"].startswith("leaky.")}
    assert messages == {f"provider 'env' failed: {vault / 'broken.env.example'}:2: expected NAME=value"}
    facts = json.loads(scan.run("facts", "--provider", "secrets").stdout)["secrets"]
    assert facts["source_errors"] == [{"source": "dotenv:broken.env", "message": f"{vault / 'broken.env'}:2: expected NAME=value"}]
    assert facts["present"]["DB_PASSWORD"] == {"source": "dir:secrets"}
    assert facts["present"]["SIGNING_KEY"] == {"source": "dotenv:.env"}
    # A broken policy that tries to interpolate a secret fails to load, without a value.
    (vault / "policies" / "leaky.yaml").write_text(LEAKY_POLICY.replace("{{ env.values.OPENAI_API_KEY }}", "{{ env.values.OPENAI_API_KEY[ }}"))
    assert scan.run("eval").returncode == 2
    assert scan.run("validate").returncode == 2
    assert scan.leaks == []


# Kubernetes manifests: literal values in a Deployment's env, a Secret's data and
# stringData, and the container's args; a hostile policy dumps `{{ kubernetes }}`.
K8S_MANIFEST = """\
apiVersion: v1
kind: Secret
metadata: {name: llm-keys}
stringData: {OPENAI_API_KEY: %(c)s}
data: {HF_TOKEN: %(b64)s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: llm, annotations: {kubectl.kubernetes.io/last-applied-configuration: '{"env": "%(c)s"}'}}
spec:
  selector: {matchLabels: {app: llm}}
  template:
    metadata: {labels: {app: llm}}
    spec:
      containers:
        - name: server
          image: vllm/vllm-openai:v0.6.3
          args: [--api-key, %(c)s, "--url=postgres://u:%(c)s@db/x"]
          env:
            - {name: OPEN_API_KEY, value: %(c)s}
            - {name: MISC_SETTING, value: %(c)s}
            - {name: APP_PEPPER, value: %(p)s}
""" % {"c": CANARY, "p": PLAIN_CANARY, "b64": "c2stYW50LUNBTkFSWS03ZjNhOWM="}

K8S_LEAKY_POLICY = """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: leaky-k8s}
rules:
  - id: leak.k8s-dump
    title: dump
    severity: high
    facts: [kubernetes]
    assert: "`false`"
    message: "{{ kubernetes }} {{ @ }}"
    remedy: {action: abort}
"""


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    (tmp_path / "deploy.yaml").write_text(K8S_MANIFEST)
    (tmp_path / "leaky.yaml").write_text(K8S_LEAKY_POLICY)
    (tmp_path / ".env.example").write_text("OPENAI_API_KEY=  # secret\n")
    (tmp_path / "wfgy.yaml").write_text(dedent("""\
        apiVersion: wfgy-rules/v1
        kind: Config
        policies: ["builtin:kubernetes", ./leaky.yaml]
        providers:
          kubernetes: {paths: [deploy.yaml], declared_env: .env.example, required_secrets: [OPENAI_API_KEY], expose: [MISC_SETTING]}
        """))
    return tmp_path


def test_a_manifests_literal_secrets_never_reach_facts_or_reports(manifests):
    config = manifests / "wfgy.yaml"
    config.write_text(config.read_text().replace(", expose: [MISC_SETTING]", ""))
    outputs = [run_cli("facts", cwd=manifests), run_cli("explain", "k8s.no-literal-credentials", cwd=manifests)]
    outputs += [run_cli("eval", "--format", fmt, cwd=manifests) for fmt in FORMATS]
    for done in outputs:
        assert done.returncode in (0, 1), done.stderr
        assert MARK not in done.stdout + done.stderr
    assert "OPEN_API_KEY is set to a literal value in the manifest (value not shown)" in outputs[2].stdout + outputs[-1].stdout


def test_exposing_a_manifest_value_that_holds_a_key_is_refused_without_quoting_it(manifests):
    done = run_cli("eval", cwd=manifests)
    assert "refusing to expose secret variable MISC_SETTING" in done.stdout + done.stderr
    assert MARK not in done.stdout + done.stderr


def test_the_webhook_never_answers_or_logs_a_manifest_secret(manifests):
    pytest.importorskip("uvicorn")
    from wfgy_rules.documents.yamlio import load_stream
    from wfgy_rules.webhook.review import Reviewer

    config = manifests / "wfgy.yaml"
    config.write_text(config.read_text().replace(", expose: [MISC_SETTING]", "").replace("paths: [deploy.yaml], ", ""))
    (deployment,) = [d.data for d in load_stream(K8S_MANIFEST, "m") if d.data["kind"] == "Deployment"]
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
              "request": {"uid": "u", "operation": "CREATE", "object": deployment, "dryRun": True}}
    verdict = Reviewer(str(config)).review(review)
    assert verdict.response["response"]["allowed"] is False
    assert MARK not in json.dumps(verdict.response) + json.dumps(verdict.record)


def test_near_miss_and_key_facts_leak_no_value_url_or_host(tmp_path):
    """The facts added for issue 11 (``near_misses[].known/readers``, ``keys[].kind/endpoint``)
    carry names and labels only: no key value, no base URL, no host name (which can embed a
    tenant or credentials), in the facts and in every report format of a failing run."""
    host = "tenant-CANARY-gw.internal.example"
    env = {
        "OPENAI_API_KEY": CANARY,                                   # an Anthropic key: key-kind fails
        "ANTHROPIC_API_KEY": "sk-proj-" + MARK,                     # an OpenAI key for a custom endpoint
        "ANTHROPIC_BASE_URL": f"https://user:{CANARY}@{host}/v1",
        "HF_ENDPOINT": f"https://{host}",
        "HUGGING_FACE_HUB_TOKEN": "hf_" + MARK + "x",               # a known neighbour of HF_TOKEN
        "OPENAI_KEY": CANARY,                                       # an unknown near miss
    }
    (tmp_path / "wfgy.yaml").write_text(dedent("""
        apiVersion: wfgy-rules/v1
        kind: Config
        policies: [%s]
        providers:
          env: {declared: [{name: HF_TOKEN, required: false, secret: true}, {name: OPENAI_API_KEY, secret: true}, {name: OPENAI_KEY_FILE, required: false}]}
    """ % resource_path("rules/boot-checkpoint.yaml").as_posix()))
    facts = run_cli("facts", "--provider", "env", cwd=tmp_path, env=env)
    bundle = json.loads(facts.stdout)["env"]
    assert {m["found"]: m["known"] for m in bundle["near_misses"]} == {"HUGGING_FACE_HUB_TOKEN": True, "OPENAI_KEY": False}
    assert {k["name"]: k["endpoint"] for k in bundle["keys"]} == {"OPENAI_API_KEY": "default", "ANTHROPIC_API_KEY": "custom", "HUGGING_FACE_HUB_TOKEN": "custom"}
    outputs = [facts] + [run_cli("eval", "--format", fmt, cwd=tmp_path, env=env) for fmt in FORMATS]
    assert outputs[1].returncode == 1  # the wrong key and the misspelling were judged
    for done in outputs:
        assert MARK not in done.stdout + done.stderr
        assert "internal.example" not in done.stdout + done.stderr
