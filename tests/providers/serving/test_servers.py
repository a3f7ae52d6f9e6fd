"""servers.yaml and `recognise`: which containers are model servers, by what they run; and the
launch walk through what stands in front of a server in real manifests (launchers, the gate,
multi-line scripts)."""

from __future__ import annotations

import pytest

from wfgy_rules.providers.serving.launch import parse_launch
from wfgy_rules.providers.serving.servers import recognise, starts_ray_node, tables


def test_every_row_names_its_source():
    rows = [*tables().launches, *tables().ray_nodes, *tables().images, *tables().kserve]
    assert rows and all(row.source.startswith(("github:", "https://")) for row in rows)


@pytest.mark.parametrize("row", tables().images, ids=lambda row: row.image)
def test_a_serving_image_without_a_command_is_its_server(row):
    image = row.image.replace("*", "x") + ":" + (row.tags[0].replace("*", "cuda") if row.tags else "1.0")
    found = recognise(None, None, image, {})
    assert found["serving"] is not None and found["serving"]["via"] == "image-entrypoint", found["reason"]


@pytest.mark.parametrize(("command", "args", "image", "engine", "via"), [
    (["vllm", "serve", "m"], None, "busybox", "vllm", "command"),
    (None, ["--model", "m", "-tp", "2"], "docker.io/vllm/vllm-openai:v0.10.0", "vllm", "image-entrypoint"),
    (None, ["--model-id", "m"], "ghcr.io/huggingface/text-generation-inference:2.4.0", "tgi", "image-entrypoint"),
    (None, None, "ollama/ollama:0.5.7", "ollama", "image-entrypoint"),
    (None, ["-m", "/models/m.gguf"], "ghcr.io/ggml-org/llama.cpp:server-cuda", "llama.cpp", "image-entrypoint"),
    (["tritonserver", "--model-repository=/models"], None, "nvcr.io/nvidia/tritonserver:24.05-py3", "triton", "command"),
    (None, ["torchserve", "--start", "--model-store=/mnt/models"], "pytorch/torchserve-kfs:0.9.0", "torchserve", "args"),
    (["/bin/sh", "-c", "accelerate launch --num_processes 1 --gpu_ids all /workspace/tfs/inference_api.py --pipeline text-generation"], None, "x", "kaito-transformers", "command"),
    (["python3", "/workspace/vllm/inference_api.py", "--tensor-parallel-size=2"], None, "x", "kaito-vllm", "command"),
    (["python3", "-m", "vllm.entrypoints.grpc_server", "--model", "m"], None, "x", "vllm-grpc", "command"),
])
def test_servers_are_recognised_by_what_runs(command, args, image, engine, via):
    found = recognise(command, args, image, {})
    assert (found["serving"]["engine"], found["serving"]["via"]) == (engine, via), found["reason"]


@pytest.mark.parametrize(("command", "args", "image"), [
    (["sh", "-c", "genai-perf profile -m vllm; sleep infinity"], None, "vllm/vllm-openai:v0.8.5"),  # a client in a server image
    (["sleep", "infinity"], None, "nvcr.io/nvidia/tritonserver:24.05-py3-sdk"),
    (["python3", "-m", "vllm_router.app", "--static-backends", "http://vllm:8000"], None, "lmcache/lmstack-router"),
    (None, ["-poolName", "vllm-llama3-8b-instruct"], "registry.k8s.io/gateway-api-inference-extension/epp:v0.3.0"),
    (None, None, "ghcr.io/open-webui/open-webui:ollama"),
    (None, None, "ghcr.io/ggml-org/llama.cpp:light"),  # the CLI image, not the server
])
def test_mentioning_a_server_is_not_being_one(command, args, image):
    assert recognise(command, args, image, {})["serving"] is None


def test_a_parsed_server_carries_its_launch_and_a_wrapper_takes_the_engines_words():
    found = recognise(["python3", "/workspace/vllm/inference_api.py", "--tensor-parallel-size=2", "--kaito-config-file=/c.yaml"], None, None, {})
    launch = found["serving"]["launch"]
    assert (launch["engine"], launch["tensor_parallel_size"], launch["unknown_flags"]) == ("vllm", 2, ["--kaito-config-file"])


@pytest.mark.parametrize(("argv", "tensor", "pipeline"), [
    (["wfgy-rules", "preflight", "--config", "/etc/wfgy/wfgy.yaml", "--", "python3", "-m", "vllm.entrypoints.openai.api_server", "-tp", "2"], 2, 1),
    (["torchrun", "--nproc_per_node", "2", "-m", "vllm.entrypoints.openai.api_server", "-tp", "2"], 2, 1),
    (["mpirun", "-np", "2", "--allow-run-as-root", "vllm", "serve", "m", "-pp", "2"], 1, 2),
    (["bash", "-exc", "set -x\napt-get update\n# start\npython -m vllm.entrypoints.openai.api_server \\\n  --model m \\\n  -tp 4\n"], 4, 1),
    (["sh", "-c", "bash multi-node-serving.sh leader --ray_cluster_size=$(LWS_GROUP_SIZE); python3 -m vllm.entrypoints.openai.api_server -tp 8 -pp 2"], 8, 2),
    (["/bin/sh", "-c", "if [ \"$I\" = 0 ]; then vllm serve m -tp 2; else sleep 1; fi"], 2, 1),
])
def test_the_launch_is_found_behind_launchers_the_gate_and_scripts(argv, tensor, pipeline):
    launch = parse_launch(argv, {})
    assert (launch["engine"], launch["tensor_parallel_size"], launch["pipeline_parallel_size"]) == ("vllm", tensor, pipeline)


def test_a_ray_node_beside_the_launch_is_seen():
    assert starts_ray_node(["sh", "-c", "ray start --head --port=6379 && vllm serve m -pp 2"], {})
    assert starts_ray_node(["sh", "-c", "/workspace/vllm/multi-node-serving.sh leader --ray_cluster_size=2; python3 x.py"], {})
    assert not starts_ray_node(["vllm", "serve", "m"], {})
