"""The ``kubernetes`` pack through the CLI on what issue 24 is about: servers recognised by what
a container runs, serving CRDs read (and unread kinds reported), required secrets satisfied by
an alias, the declared env taken from ``providers.env.declared``, fit from the pod spec
(parallel GPUs, /dev/shm, the model's heads and context) and the ``file`` provider over a
multi-document stream."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import REPO, run_cli

LLAMA_CONFIG = REPO / "tests" / "corpus" / "serving" / "model_configs" / "llama-3.1-8b"

SERVER = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: vllm}
spec:
  template:
    spec:
      containers:
        - name: server
          image: vllm/vllm-openai:v0.8.5
          args: ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--tensor-parallel-size", "$(TP)", "--max-model-len", "8192"]
          env:
            - {name: TP, value: "2"}
            - name: HUGGING_FACE_HUB_TOKEN
              valueFrom: {secretKeyRef: {name: hf, key: token}}
          resources: {limits: {nvidia.com/gpu: 2}}
          volumeMounts: [{name: dshm, mountPath: /dev/shm}]
      volumes:
        - {name: dshm, emptyDir: {medium: Memory, sizeLimit: 8Gi}}
"""
CLIENTS = """\
apiVersion: v1
kind: Pod
metadata: {name: bench}
spec:
  containers:
    - name: genai-perf
      image: vllm/vllm-openai:v0.8.5
      command: [sh, -c, "genai-perf profile -m vllm --url vllm:8000; sleep infinity"]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: router}
spec:
  template:
    spec:
      containers:
        - {name: router, image: lmcache/lmstack-router:latest, command: [python3, -m, vllm_router.app, --static-backends, "http://vllm:8000"]}
        - {name: picker, image: registry.k8s.io/gateway-api-inference-extension/epp:v0.3.0, args: [-poolName, vllm-llama3-8b-instruct]}
"""
LWS = """\
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata: {name: vllm}
spec:
  leaderWorkerTemplate:
    size: 2
    leaderTemplate:
      spec:
        containers:
          - name: leader
            image: vllm/vllm-openai:v0.8.5
            command: [sh, -c]
            args:
              - |
                bash /vllm-workspace/examples/online_serving/multi-node-serving.sh leader --ray_cluster_size=$(LWS_GROUP_SIZE)
                python3 -m vllm.entrypoints.openai.api_server --model /models/llama \\
                  --tensor-parallel-size 8 --pipeline-parallel-size PP
            env: [{name: HF_TOKEN, valueFrom: {secretKeyRef: {name: hf, key: token}}}]
            resources: {limits: {nvidia.com/gpu: "8"}}
        hostIPC: true
    workerTemplate:
      spec:
        containers:
          - name: worker
            image: vllm/vllm-openai:v0.8.5
            command: [sh, -c, "bash /vllm-workspace/examples/online_serving/multi-node-serving.sh worker --ray_address=$(LWS_LEADER_ADDRESS)"]
            resources: {limits: {nvidia.com/gpu: "8"}}
---
apiVersion: production-stack.vllm.ai/v1alpha1
kind: VLLMRuntime
metadata: {name: sample}
spec: {model: {modelURL: meta-llama/Llama-3.1-8B-Instruct}}
---
apiVersion: v1
kind: Service
metadata: {name: vllm}
spec: {ports: [{port: 8000}]}
"""


def project(tmp_path: Path, manifests: dict[str, str], **providers: Any) -> Path:
    for name, text in manifests.items():
        (tmp_path / name).write_text(text)
    kubernetes = {"paths": sorted(manifests), **providers.pop("kubernetes", {})}
    config = {"apiVersion": "wfgy-rules/v1", "kind": "Config", "policies": ["builtin:kubernetes"], "fail_on": "low",
              "providers": {"kubernetes": kubernetes, **providers}}
    (tmp_path / "wfgy.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def judged(root: Path) -> dict[str, list[tuple[str, Any]]]:
    """rule id -> [(message, line)] of its failing results; "skip" -> skip messages by rule."""
    done = run_cli("eval", "--config", "wfgy.yaml", "-f", "json", cwd=root)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    found: dict[str, list[tuple[str, Any]]] = {}
    for r in json.loads(done.stdout)["results"]:
        if r["status"] == "fail":
            found.setdefault(r["rule_id"], []).append((r["message"], (r.get("location") or {}).get("line")))
        elif r["status"] == "skip":
            found.setdefault("skip", []).append((r["rule_id"], r["message"]))
        assert r["status"] != "error", r
    return found


def facts(root: Path) -> dict[str, Any]:
    done = run_cli("facts", "--config", "wfgy.yaml", "--provider", "kubernetes", cwd=root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["kubernetes"]


def test_a_server_is_what_a_container_runs_and_its_facts_say_why(tmp_path):
    root = project(tmp_path, {"server.yaml": SERVER, "clients.yaml": CLIENTS}, kubernetes={"required_secrets": ["HF_TOKEN"]})
    workloads = {w["label"]: w for w in facts(root)["workloads"]}
    assert {label: w["serving"] for label, w in workloads.items()} == {"deployment/vllm": True, "pod/bench": False, "deployment/router": False}
    (server,) = workloads["deployment/vllm"]["containers"]
    assert (server["serving"]["engine"], server["serving"]["via"], server["serving"]["launch_via"]) == ("vllm", "image-entrypoint", "vllm serve")
    assert server["serving"]["launch"]["tensor_parallel_size"] == 2  # $(TP) expanded from the container's env
    assert server["serving_reason"] == "no command: the image's ENTRYPOINT (vllm serve) starts vllm (vllm serve)"
    assert "args" not in server and "command" not in server
    reasons = {c["name"]: (c["serving"], c["serving_reason"]) for label in ("pod/bench", "deployment/router") for c in workloads[label]["containers"]}
    assert reasons == {
        "genai-perf": (None, "the command runs a shell script, which starts no model server"),
        "router": (None, "the command runs python3, which starts no model server"),
        "picker": (None, "no command, the args are options, and the image is not one whose ENTRYPOINT is known to start a model server"),
    }
    found = judged(root)
    assert [m for m, _ in found["k8s.gate-present"]] == ["deployment/vllm: no container runs `wfgy-rules preflight` (neither an init container nor the entrypoint)"]
    assert "k8s.secrets-referenced" not in found  # the clients are not servers; the server has the token
    assert found["k8s.secret-satisfied-by-alias"] == [("deployment/vllm: HF_TOKEN reaches the pod as HUGGING_FACE_HUB_TOKEN, an alias read by huggingface_hub", 13)]


def test_only_a_name_the_same_tools_read_satisfies_a_required_secret(tmp_path):
    legacy = SERVER.replace("HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN")
    found = judged(project(tmp_path, {"server.yaml": legacy}, kubernetes={"required_secrets": ["HF_TOKEN"]}))
    assert found["k8s.secrets-referenced"] == [("deployment/vllm: required secrets come from no Secret, under their names or an alias the same tools read: HF_TOKEN", 1)]
    assert "k8s.secret-satisfied-by-alias" not in found


def test_the_declared_env_comes_from_env_declared_and_its_absence_is_a_reason(tmp_path):
    misspelt = SERVER.replace("{name: TP, value: \"2\"}", "{name: TP, value: \"2\"}\n            - {name: OPEN_API_KEY, valueFrom: {secretKeyRef: {name: keys, key: openai}}}")
    root = project(tmp_path, {"server.yaml": misspelt}, env={"declared": [{"name": "OPENAI_API_KEY", "secret": True}]})
    assert judged(root)["k8s.env-misspelled"] == [("deployment/vllm container server: OPEN_API_KEY is set; did you mean OPENAI_API_KEY?", 13)]
    project(root, {"server.yaml": misspelt})  # neither env.declared nor kubernetes.declared_env
    skipped = dict(judged(root)["skip"])
    assert skipped["k8s.env-misspelled"] == "when is false: kubernetes.configured && kubernetes.declared_env.from != null"


def test_crds_are_read_multi_node_launches_count_the_group_and_unread_kinds_are_reported(tmp_path):
    root = project(tmp_path, {"lws.yaml": LWS.replace("PP", "2")}, kubernetes={"required_secrets": ["HF_TOKEN"]})
    found = judged(root)
    assert "k8s.parallel-gpus" not in found and "k8s.shm-for-tensor-parallel" not in found  # 8 x 2 on 2 pods of 8, hostIPC
    assert found["k8s.kind-not-read"] == [("VLLMRuntime sample (production-stack.vllm.ai/v1alpha1) is not read: no pod template is known for this kind, so its containers are not judged", 29)]
    assert [m for m, _ in found["k8s.gate-present"]] == ["leaderworkerset/vllm (leader): no container runs `wfgy-rules preflight` (neither an init container nor the entrypoint)"]
    project(tmp_path, {"lws.yaml": LWS.replace("PP", "4").replace("        hostIPC: true\n", "")}, kubernetes={"required_secrets": ["HF_TOKEN"]})
    found = judged(root)
    assert found["k8s.parallel-gpus"] == [("leaderworkerset/vllm (leader) container leader: the vllm launch needs 32 GPUs (tensor parallel 8 × pipeline parallel 4) and gets 16 (nvidia.com/gpu limit 8 × group size 2)", 10)]
    assert found["k8s.shm-for-tensor-parallel"] == [("leaderworkerset/vllm (leader) container leader: tensor parallel 8 with the default 64 MiB /dev/shm (no volume at /dev/shm, no hostIPC): NCCL fails with 'Error while creating shared memory segment'", 10)]


def test_a_configured_model_directory_judges_each_servers_heads_and_context(tmp_path):
    shutil.copytree(LLAMA_CONFIG, tmp_path / "model")
    three = SERVER.replace('value: "2"', 'value: "3"').replace("nvidia.com/gpu: 2", "nvidia.com/gpu: 4").replace('"8192"', '"200000"')
    root = project(tmp_path, {"server.yaml": three}, serving={"model_dir": "model"})
    found = judged(root)
    assert found["k8s.heads-divisible"] == [("deployment/vllm container server: the model's 32 attention heads are not divisible by tensor parallel size 3: the engine stops before loading. Sizes that divide: 1, 2, 4, 8", 8)]
    assert [m for m, _ in found["k8s.kv-heads-divisible"]] == ["deployment/vllm container server: the model's 8 key/value heads cannot be split evenly over tensor parallel size 3. Sizes that fit: 1, 2, 4, 8"]
    assert found["k8s.context-within-model"] == [("deployment/vllm container server: max_model_len 200000 is above the 131072 tokens the model supports: vllm refuses to start", 8)]
    assert "k8s.parallel-gpus" not in found
    fitting = SERVER.replace('"8192"', '"131072"')
    found = judged(project(tmp_path, {"server.yaml": fitting}, serving={"model_dir": "model"}))
    assert not {"k8s.heads-divisible", "k8s.kv-heads-divisible", "k8s.context-within-model"} & set(found)


def test_a_team_rule_over_a_whole_rendered_chart(tmp_path):
    (tmp_path / "chart.yaml").write_text(SERVER + "---\n# Source: chart/templates/svc.yaml\n---\n" + CLIENTS)
    (tmp_path / "team.yaml").write_text(textwrap.dedent("""\
        apiVersion: wfgy-rules/v1
        kind: Policy
        metadata: {name: team, owner: platform}
        rules:
          - id: team.two-replicas
            title: Deployments run two replicas
            severity: medium
            facts: [file]
            for_each: "file.chart[?kind == 'Deployment']"
            assert: "item.spec.replicas >= `2`"
            message: "{{ item.metadata.name }} runs fewer than two replicas"
        """))
    (tmp_path / "wfgy.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Config\npolicies: [team.yaml]\nproviders:\n  file: {files: {chart: chart.yaml}}\n")
    done = run_cli("eval", "--config", "wfgy.yaml", "-f", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    failed = sorted(r["message"] for r in json.loads(done.stdout)["results"] if r["status"] == "fail")
    assert failed == ["router runs fewer than two replicas", "vllm runs fewer than two replicas"]
