"""The Kubernetes examples (``policies.example/kubernetes/``) are deployable as written: every
manifest is valid for Kubernetes, every ``wfgy-rules`` command in them parses with the real
CLI and names files its container mounts, and the ConfigMap's config and policies load."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import typer
import yaml

from tests.helpers import REPO, run_cli
from wfgy_rules.cli import app

FOLDER = REPO / "policies.example" / "kubernetes"
KUBERNETES_VERSION = "1.30"  # a release every managed offering still runs; shipped by kubernetes-validate
MANIFESTS = sorted(p for p in FOLDER.glob("*.yaml") if p.name != "wfgy.yaml")  # wfgy.yaml: the CI config beside them


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, doc) for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    template = doc.get("spec", {}).get("template")
    return template["spec"] if template else None


def containers() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(file, pod spec, container) for every container and init container."""
    found = []
    for name, doc in documents():
        pod = pod_spec(doc)
        if pod:
            found += [(name, pod, c) for c in pod.get("initContainers", []) + pod["containers"]]
    return found


def invocations() -> list[tuple[str, dict[str, Any], dict[str, Any], list[str]]]:
    """Every container whose command line runs wfgy-rules, with that command line (a shell's
    ``exec wfgy-rules …`` as the shell would run it, with shard index 0)."""
    return [(name, pod, c, wfgy_argv([*c.get("command", []), *c.get("args", [])])) for name, pod, c in containers()
            if "wfgy-rules" in " ".join(c.get("command", []) + c.get("args", []))]


SHELL_VALUES = {'"$((JOB_COMPLETION_INDEX + 1))/8"': "1/8", "$JOB_COMPLETION_INDEX": "0"}


def wfgy_argv(argv: list[str]) -> list[str]:
    if argv[:2] != ["sh", "-c"]:
        return argv
    script = argv[2]
    assert script.startswith("exec wfgy-rules "), f"{script!r}: a shell must exec wfgy-rules (signals reach it, its exit code is the pod's)"
    for text, value in SHELL_VALUES.items():
        script = script.replace(text, value)
    return shlex.split(script.removeprefix("exec "))


def config_map() -> dict[str, str]:
    (doc,) = [doc for _, doc in documents() if doc["kind"] == "ConfigMap"]
    return doc["data"]


def parse(argv: list[str]) -> click.Context:
    """The context the real CLI builds for ``argv`` (raises click.UsageError when it does not parse)."""
    group = typer.main.get_command(app)
    command = group.commands[argv[1]]
    return command.make_context(f"wfgy-rules {argv[1]}", list(argv[2:]))


def test_the_folder_has_every_form():
    assert {p.name for p in MANIFESTS} == {"configmap.yaml", "init-container.yaml", "entrypoint-wrapper.yaml", "fleet-audit-job.yaml", "webhook.yaml"}
    assert (FOLDER / "README.md").exists()
    assert len(invocations()) == 6


@pytest.mark.parametrize("name,doc", [pytest.param(n, d, id=f"{n}:{d['kind']}") for n, d in documents()])
def test_manifest_is_valid_for_kubernetes(name, doc):
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed (pip install kubernetes-validate)")
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)  # strict: unknown fields are errors


@pytest.mark.parametrize("name,pod,container,argv", [pytest.param(*i, id=f"{i[0]}:{i[2]['name']}") for i in invocations()])
def test_wfgy_rules_command_lines_parse_and_use_mounted_paths(name, pod, container, argv):
    assert argv[0] == "wfgy-rules", f"{name}: run wfgy-rules directly (exec form), not inside a shell string"
    ctx = parse(argv)
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    for option in ("config", "env_out", "output"):
        value = ctx.params.get(option)
        if value:
            mount = next((m for path, m in mounts.items() if value.startswith(path.rstrip("/") + "/")), None)
            assert mount is not None, f"{name}: {value} is not on a volume of container {container['name']}"
            assert option == "config" or not mount.get("readOnly"), f"{name}: {value} is on a read-only mount"
    for variable in re.findall(r"\$\((\w+)\)", " ".join(argv)):
        assert variable in {e["name"] for e in container.get("env", [])}, f"{name}: $({variable}) is not in the container's env"
    config = ctx.params.get("config")
    if argv[1] == "merge":
        assert all(value.startswith("/out/") for value in ctx.params["reports"])
        return
    volume = next(v for v in pod["volumes"] if v["name"] == mounts[str(Path(config).parent)]["name"])
    assert volume["configMap"]["name"] == "wfgy-config" and Path(config).name in config_map()


def test_every_only_and_skip_glob_matches_a_rule(tmp_path):
    for key, text in config_map().items():
        (tmp_path / key).write_text(text)
    listing = run_cli("list", "--config", "wfgy.yaml", "--format", "json", cwd=tmp_path)
    ids = [rule["id"] for rule in json.loads(listing.stdout)["rules"]]
    for name, _, _, argv in invocations():
        params = parse(argv).params
        for glob in [*(params.get("only") or ()), *(params.get("skip") or ())]:
            assert fnmatch.filter(ids, glob), f"{name}: {glob} matches no rule"


def test_the_init_container_hands_its_env_file_to_the_app():
    (init,) = [(pod, argv) for name, pod, c, argv in invocations() if name == "init-container.yaml"]
    pod, argv = init
    env_out = parse(argv).params["env_out"]
    (app_container,) = pod["containers"]
    script = " ".join(app_container["args"])
    assert f"set -a && . {env_out} && set +a && exec " in script
    shared = {m["mountPath"]: m["name"] for m in app_container["volumeMounts"]}[str(Path(env_out).parent)]
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == shared)


def test_the_wrapper_starts_the_app_after_its_checks():
    (argv,) = [argv for name, _, _, argv in invocations() if name == "entrypoint-wrapper.yaml"]
    assert list(parse(argv).params["command"][:3]) == ["python3", "-m", "vllm.entrypoints.openai.api_server"]


def test_the_config_map_loads_and_the_fleet_audit_judges_node_bundles(tmp_path):
    for key, text in config_map().items():
        (tmp_path / key).write_text(text)
    done = run_cli("validate", "wfgy.yaml", "fleet.yaml", "model-card.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    card = json.loads(config_map()["model-card.json"])
    nodes = tmp_path / "out"
    nodes.mkdir()
    for node, (driver, cuda, gib) in {"gpu-a": ("550.54.15", "12.4", 80), "gpu-b": ("525.85.12", "12.0", 80)}.items():
        nvml = {"available": True, "driver_version": driver, "cuda_driver_version": cuda, "device_count": 1, "max_memory_total_gib": gib}
        serving = {"launch": {"engine": None, "gpu_only": None}}  # what `facts --provider serving` gives with no launch
        (nodes / f"{node}.json").write_text(json.dumps({"nvml": nvml, "model_card": {"present": True, "path": "model-card.json", "declared": card},
                                                       "serving": serving}))
    done = run_cli("eval", "--config", "wfgy.yaml", "--facts", "out", "--only", "fleet.*", "--only", "cuda.gpu-*", "-f", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    failed = [(r["target"], r["rule_id"]) for r in json.loads(done.stdout)["results"] if r["status"] in ("fail", "error")]
    assert failed == [("gpu-b.json", "fleet.driver-floor")]


def test_the_fleet_audit_judges_in_indexed_shards_and_merges_them_all(tmp_path):
    jobs = {doc["metadata"]["name"]: doc for name, doc in documents() if name == "fleet-audit-job.yaml" and doc["kind"] == "Job"}
    gather, judge, merge = jobs["wfgy-fleet-audit"], jobs["wfgy-fleet-judge"], jobs["wfgy-fleet-merge"]
    assert judge["spec"]["completionMode"] == "Indexed"
    shards = judge["spec"]["completions"]
    (argv,) = [argv for name, _, c, argv in invocations() if c["name"] == "judge"]
    params = parse(argv).params
    assert params["shard"] == f"1/{shards}" and params["format"] == "jsonl" and params["facts"] == "/out"
    script = judge["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert f'--shard "$((JOB_COMPLETION_INDEX + 1))/{shards}"' in script and '"/out/shards/$JOB_COMPLETION_INDEX.jsonl"' in script
    assert f"-ge {shards} ]" in merge["spec"]["template"]["spec"]["initContainers"][0]["command"][2]
    assert f"-ge {gather['spec']['completions']} ]" in judge["spec"]["template"]["spec"]["initContainers"][0]["command"][2]
    claims = {v["persistentVolumeClaim"]["claimName"] for job in jobs.values() for v in job["spec"]["template"]["spec"]["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"wfgy-fleet-facts"}
    # the shards' command lines, run for every index, then the merge: the single run's report
    for key, text in config_map().items():
        (tmp_path / key).write_text(text)
    card = json.loads(config_map()["model-card.json"])
    out = tmp_path / "out"
    (out / "shards").mkdir(parents=True)
    for n in range(40):
        nvml = {"available": True, "driver_version": "525.85.12" if n % 9 == 0 else "550.54.15", "cuda_driver_version": "12.0" if n % 9 == 0 else "12.4",
                "device_count": 1, "max_memory_total_gib": 80}
        (out / f"gpu-{n:02d}.json").write_text(json.dumps({"nvml": nvml, "model_card": {"present": True, "path": "model-card.json", "declared": card}}))
    for index in range(shards):
        line = [a.replace("/etc/wfgy/", "").replace("/out", "out") for a in argv[1:]]
        line[line.index("--shard") + 1] = f"{index + 1}/{shards}"
        line[line.index("--output") + 1] = f"out/shards/{index}.jsonl"
        assert run_cli(*line, cwd=tmp_path).returncode == 0
    merged = run_cli("merge", *sorted(str(p) for p in (out / "shards").glob("*.jsonl")), cwd=tmp_path)
    single = run_cli("eval", "--config", "wfgy.yaml", "--facts", "out", "--only", "fleet.*", "--only", "cuda.gpu-*", "-f", "jsonl", "--force", cwd=tmp_path)
    assert merged.stdout == single.stdout and json.loads(merged.stdout.splitlines()[-1])["summary"]["fail"] == 5


PLANTED = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: support-bot
spec:
  selector:
    matchLabels: {app: support-bot}
  template:
    metadata:
      labels: {app: support-bot}
    spec:
      containers:
        - name: server
          image: vllm/vllm-openai:v0.6.3
          command: [wfgy-rules, preflight, --config, /etc/wfgy/wfgy.yaml, --]
          args: [python3, -m, vllm.entrypoints.openai.api_server]
          env:
            - name: OPEN_API_KEY
              valueFrom:
                secretKeyRef: {name: llm-secrets, key: OPENAI_API_KEY}
          resources:
            limits: {nvidia.com/gpu: 1}
          volumeMounts:
            - {name: llm-secrets, mountPath: /var/run/secrets/llm, readOnly: true}
      volumes:
        - name: llm-secrets
          secret: {secretName: llm-secrets}
"""


def test_the_kubernetes_config_judges_the_example_manifests_clean():
    done = run_cli("eval", "--config", "policies.example/kubernetes/wfgy.yaml", cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("14 passed, 0 failed, 2 skipped")  # no model directory: the heads rules skip


def test_a_misspelt_key_planted_beside_the_example_is_caught_with_file_and_line(tmp_path):
    example = tmp_path / "example"
    import shutil

    shutil.copytree(REPO / "policies.example", example)
    (example / "kubernetes" / "support-bot.yaml").write_text(PLANTED)
    done = run_cli("eval", "--config", "kubernetes/wfgy.yaml", cwd=example)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "• kubernetes/support-bot.yaml:18:15: deployment/support-bot container server: OPEN_API_KEY is set; did you mean OPENAI_API_KEY?" in done.stdout
    report = json.loads(run_cli("eval", "--config", "kubernetes/wfgy.yaml", "-f", "json", cwd=example).stdout)
    failed = [(r["rule_id"], r["location"]) for r in report["results"] if r["status"] not in ("pass", "skip")]
    assert failed == [("k8s.env-misspelled", {"path": "kubernetes/support-bot.yaml", "line": 18, "column": 15})]


def test_the_webhook_is_scoped_fails_closed_and_serves_what_its_probes_and_service_expect(tmp_path):
    (webhook,) = [doc for name, doc in documents() if doc["kind"] == "ValidatingWebhookConfiguration"]
    (hook,) = webhook["webhooks"]
    assert hook["failurePolicy"] == "Fail" and hook["sideEffects"] == "None" and hook["admissionReviewVersions"] == ["v1"]
    assert hook["namespaceSelector"] == {"matchLabels": {"wfgy-rules.io/gate": "enabled"}}
    (argv,) = [argv for name, _, _, argv in invocations() if argv[1] == "serve"]
    params = parse(argv).params
    assert params["failure_mode"] == "fail" and params["timeout"] < hook["timeoutSeconds"]
    assert hook["clientConfig"]["service"]["path"] == "/validate"
    (deployment,) = [doc for name, doc in documents() if name == "webhook.yaml" and doc["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["ports"][0]["containerPort"] == params["port"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz" and container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for key, text in config_map().items():
        (tmp_path / key).write_text(text)
    assert run_cli("validate", "webhook.yaml", cwd=tmp_path).returncode == 0
