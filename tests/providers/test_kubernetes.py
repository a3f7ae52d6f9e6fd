"""The ``kubernetes`` provider over real manifests (tests/providers/manifests/, see its README):
kubectl-style files, ``helm template`` and ``kustomize build`` output, a ``kind: List``."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.kubernetes.kubernetes import KubernetesProvider

MANIFESTS = Path(__file__).parent / "manifests"
CANARIES = ("canary-in-a-secret", "canaryinasecret", "canary-in-env", "canary-in-args", "c2stcHJvai1jYW5hcnkt")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(MANIFESTS, tmp_path / "k8s")
    (tmp_path / ".env.example").write_text("OPENAI_API_KEY=   # secret\nHF_TOKEN=   # secret, optional\nLOG_LEVEL=info   # optional\n")
    return tmp_path


def collect(project: Path, stdin=None, **config) -> dict:
    config = {"paths": ["k8s"], "declared_env": ".env.example", "required_secrets": ["OPENAI_API_KEY"], **config}
    facts = KubernetesProvider().collect(config, ProviderContext(base_dir=project, environ={}), stdin=stdin)
    json.dumps(facts)  # JSON values only
    return facts


def by_label(facts: dict) -> dict[str, dict]:
    return {w["label"]: w for w in facts["workloads"]}


def test_every_workload_of_every_format_is_found_with_its_position(project):
    facts = collect(project)
    assert facts["configured"] and facts["errors"] == []
    assert facts["files"] == ["k8s/helm-rendered.yaml", "k8s/kustomize-build.yaml", "k8s/list.yaml", "k8s/tgi-statefulset.yaml", "k8s/vllm-deployment.yaml"]
    found = {w["label"]: (w["path"], w["line"], w["column"], w["serving"]) for w in facts["workloads"]}
    assert found == {
        "deployment/llm-llm": ("k8s/helm-rendered.yaml", 38, 1, True),
        "deployment/prod-llm": ("k8s/kustomize-build.yaml", 12, 1, True),
        "cronjob/prod-eval": ("k8s/kustomize-build.yaml", 47, 1, False),
        "pod/debug": ("k8s/list.yaml", 3, 3, False),
        "statefulset/tgi": ("k8s/tgi-statefulset.yaml", 1, 1, True),
        "deployment/vllm": ("k8s/vllm-deployment.yaml", 10, 1, True),
    }


def test_a_vllm_deployment(project):
    w = by_label(collect(project))["deployment/vllm"]
    assert (w["namespace"], w["gpu"], w["gate"]) == ("llm", 2, {"present": True, "via": "entrypoint", "container": "vllm"})
    assert w["node_selector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert w["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert w["security_context"] == {"runAsNonRoot": True}
    (c,) = w["containers"]
    assert c["image"] == "vllm/vllm-openai:v0.6.3" and c["runs_preflight"] and c["gpu_resources"] == ["nvidia.com/gpu"]
    assert "command" not in c and "args" not in c  # they can hold credentials
    env = {e["name"]: e for e in c["env"]}
    assert {n: e["source"] for n, e in env.items()} == {"OPEN_API_KEY": "secret", "HF_TOKEN": "secret", "LOG_LEVEL": "literal", "VLLM_API_KEY": "literal",
                                                         "POD_NAME": "field", "CUDA_VISIBLE_DEVICES": "literal"}
    assert (env["OPEN_API_KEY"]["line"], env["OPEN_API_KEY"]["column"]) == (35, 15)
    assert env["CUDA_VISIBLE_DEVICES"]["empty"] is True and env["VLLM_API_KEY"] == {**env["VLLM_API_KEY"], "empty": False, "credential_name": True}
    assert all("value" not in e for e in c["env"])
    assert w["near_misses"] == [{"declared": "OPENAI_API_KEY", "found": "OPEN_API_KEY", "required": True, "via": "alias", "known": False, "readers": [], "workload": "deployment/vllm",
                                 "container": "vllm", "path": "k8s/vllm-deployment.yaml", "line": 35, "column": 15}]
    refs = {(r["key"], r["key_declared"]) for r in w["secret_refs"]}
    assert refs == {("OPENAI_API_KEY", True), ("HF_TOKN", False)}
    assert w["missing_secrets"] == ["OPENAI_API_KEY"]  # OPEN_API_KEY gets it, under the wrong name


def test_secret_manifests_give_keys_never_values(project):
    facts = collect(project)
    assert facts["secrets"]["llm-keys"] == {"keys": ["HF_TOKEN", "OPENAI_API_KEY"], "path": "k8s/vllm-deployment.yaml", "line": 1, "column": 1}
    assert facts["secrets"]["llm-keys-5fk2hm9c8d"]["keys"] == ["OPENAI_API_KEY"]
    text = json.dumps(facts)
    assert not [canary for canary in CANARIES if canary in text]


def test_tgi_envfrom_and_a_projected_secret(project):
    w = by_label(collect(project, required_secrets=["HF_TOKEN"]))["statefulset/tgi"]
    (c,) = w["containers"]
    assert [(e["source"], e["name"], e["prefix"]) for e in c["env_from"]] == [("secret", "tgi-env", "TGI_"), ("config_map", "tgi-config", "")]
    (volume,) = w["secret_volumes"]
    assert volume["secret"] == "hf" and volume["items"] == [{"key": "token", "path": "HF_TOKEN"}]
    assert volume["mounts"][0]["mount_path"] == "/var/run/secrets/llm"
    assert w["opaque_secret_sources"] == ["tgi-env"] and w["missing_secrets"] == []
    assert w["gate"]["present"] is False and w["gpu"] == 0


def test_helm_output_with_empty_documents_and_an_init_container_gate(project):
    w = by_label(collect(project))["deployment/llm-llm"]
    assert w["gate"] == {"present": True, "via": "init_container", "container": "wfgy-preflight"}
    assert w["gpu"] == 1 and w["service_account"] == "llm-llm" and w["missing_secrets"] == []
    assert w["labels"] == {"app.kubernetes.io/name": "llm", "app.kubernetes.io/instance": "llm"}


def test_kustomize_output_mig_slices_annotation_gate_and_cronjob(project):
    found = by_label(collect(project))
    llm = found["deployment/prod-llm"]
    assert llm["gpu"] == 1 and llm["containers"][0]["gpu_resources"] == ["nvidia.com/mig-3g.40gb"]
    assert llm["gate"] == {"present": True, "via": "image_entrypoint", "container": None}
    assert [r["key_declared"] for r in llm["secret_refs"]] == [True]
    cron = found["cronjob/prod-eval"]
    assert cron["containers"][0]["image"] == "registry.example.com/llm/evals:1.0" and not cron["serving"]


def test_list_kinds_are_unwrapped(project):
    pod = by_label(collect(project))["pod/debug"]
    assert pod["secret_refs"][0] == {**pod["secret_refs"][0], "secret": "other", "optional": True, "declared": False, "key_declared": None}


def test_stdin_reads_a_helm_stream(project):
    text = (MANIFESTS / "helm-rendered.yaml").read_bytes()
    facts = collect(project, stdin=io.BytesIO(text), paths=["-"])
    assert facts["files"] == ["-"] and [w["label"] for w in facts["workloads"]] == ["deployment/llm-llm"]
    assert facts["workloads"][0]["path"] == "-" and facts["workloads"][0]["line"] == 38


def test_stdin_is_bounded(project, monkeypatch):
    monkeypatch.setenv("WFGY_MAX_FILE_BYTES", "100")
    with pytest.raises(ProviderError, match="over the 100-byte limit"):
        collect(project, stdin=io.BytesIO(b"a: b\n" * 100), paths=["-"])


def test_a_broken_file_is_an_error_entry_and_the_others_are_read(project):
    (project / "k8s" / "broken.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: x\n")
    (project / "k8s" / "tagged.yaml").write_text("kind: Pod\nspec: !!python/object/apply:os.system [id]\n")
    facts = collect(project)
    assert [(e["path"], e["line"]) for e in facts["errors"]] == [("k8s/broken.yaml", 4), ("k8s/tagged.yaml", 2)]
    assert len(facts["workloads"]) == 6


def test_a_missing_path_is_an_error_entry(project):
    facts = collect(project, paths=["k8s/vllm-deployment.yaml", "nowhere.yaml", "k8s/**/*.yml"])
    assert facts["errors"] == [
        {"path": "nowhere.yaml", "line": None, "column": None, "message": "kubernetes path nowhere.yaml does not exist (relative to wfgy.yaml)"},
        {"path": "k8s/**/*.yml", "line": None, "column": None, "message": "kubernetes path k8s/**/*.yml matches no file (relative to wfgy.yaml)"},
    ]


def test_only_exposed_literal_values_appear(project):
    w = by_label(collect(project, expose=["LOG_LEVEL"]))["deployment/vllm"]
    assert [(e["name"], e["value"]) for e in w["containers"][0]["env"] if "value" in e] == [("LOG_LEVEL", "debug")]


@pytest.mark.parametrize("name", ["VLLM_API_KEY", "HF_TOKEN"])
def test_exposing_a_credential_is_refused(project, name):
    with pytest.raises(ProviderError, match=f"refusing to expose secret variable {name}"):
        collect(project, expose=[name])


def test_exposing_a_variable_holding_a_key_is_refused(project):
    (project / "k8s" / "vllm-deployment.yaml").write_text((MANIFESTS / "vllm-deployment.yaml").read_text().replace("value: debug", "value: sk-proj-canary-in-env-0005"))
    with pytest.raises(ProviderError, match="refusing to expose secret variable LOG_LEVEL") as caught:
        collect(project, expose=["LOG_LEVEL"])
    assert "canary" not in str(caught.value)


def test_unconfigured_is_a_fact(tmp_path):
    facts = KubernetesProvider().collect({}, ProviderContext(base_dir=tmp_path, environ={}))
    assert {k: v for k, v in facts.items() if k != "model"} == {"configured": False, "files": [], "errors": [], "unread": [], "declared_env": {"from": None},
                                                              "secrets": {}, "required_secrets": [], "workloads": []}
    assert facts["model"]["present"] is False


def test_the_serving_annotation_overrides_what_the_containers_run(project):
    text = (MANIFESTS / "tgi-statefulset.yaml").read_text().replace("labels: {app: tgi}\n    spec:", "labels: {app: tgi}\n      annotations: {wfgy-rules.io/serving: \"false\"}\n    spec:")
    (project / "k8s" / "tgi-statefulset.yaml").write_text(text)
    found = by_label(collect(project))
    assert not found["statefulset/tgi"]["serving"] and found["deployment/vllm"]["serving"]
    assert found["statefulset/tgi"]["containers"][0]["serving"]["engine"] == "tgi"  # what it runs is still said
    assert not found["cronjob/prod-eval"]["serving"]  # a CronJob is never a server
