"""What one review may hold and cost, over real TLS to a running ``serve``: bodies past the
bounds are refused (400) or denied, the deadline stops the judging, and many worst-case
reviews at once stay under the memory limit of the shipped Deployment."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.webhook.conftest import admission_review, process_tree, start, status_kib, stop
from wfgy_rules.documents.yamlio import load_stream

SHIPPED = REPO / "policies.example" / "kubernetes" / "webhook.yaml"


def pod(containers: list[dict], **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "wide", "namespace": "llm"},
            "spec": {"containers": containers, **spec}}


def body(obj: dict, uid: str = "uid-wide") -> bytes:
    return json.dumps(admission_review(obj, uid=uid), separators=(",", ":")).encode()


def _shipped_container() -> dict:
    (deployment,) = [doc.data for doc in load_stream(SHIPPED.read_text(), str(SHIPPED)) if doc.data["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def shipped_memory_limit() -> int:
    """The webhook container's memory limit in the shipped manifest, in bytes."""
    limit = _shipped_container()["resources"]["limits"]["memory"]
    assert limit.endswith("Mi"), limit
    return int(limit[:-2]) * 1024 * 1024


def shipped_timeout() -> str:
    """The ``--timeout`` the shipped manifest gives ``serve``."""
    command = _shipped_container()["command"]
    return command[command.index("--timeout") + 1]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A server as the shipped manifest runs it: default body limit, its --timeout."""
    running = start(tmp_path_factory.mktemp("shipped"), "--timeout", shipped_timeout())
    yield running
    stop(running)


def test_a_pod_with_more_containers_than_the_bound_is_denied_unjudged(shipped):
    containers = [{"name": f"c{i}", "image": "vllm/vllm-openai:v0.6.3"} for i in range(300)]
    started = time.monotonic()
    status, answer = shipped.request("POST", "/validate", body(pod(containers)))
    assert time.monotonic() - started < 2
    assert status == 200
    assert answer["response"] == {"uid": "uid-wide", "allowed": False, "status": {
        "code": 403, "message": "denied by wfgy-rules: pod/llm/wide has 300 containers; this webhook judges at most 256"}}


def test_a_pod_with_more_env_entries_than_the_bound_is_denied(shipped):
    env = [{"name": f"V{i}", "value": "x"} for i in range(5000)]
    status, answer = shipped.request("POST", "/validate", body(pod([{"name": "server", "image": "x", "env": env}])))
    assert status == 200 and answer["response"]["allowed"] is False
    assert answer["response"]["status"]["message"] == (
        "denied by wfgy-rules: pod/llm/wide has 5000 env and envFrom entries; this webhook judges at most 4096")


def test_a_pod_with_more_arguments_than_the_bound_is_denied(shipped):
    containers = [{"name": f"c{i}", "image": "vllm/vllm-openai:v0.6.3", "command": ["vllm", "serve"],
                   "args": [f"--x{j}" for j in range(1000)]} for i in range(5)]
    started = time.monotonic()
    status, answer = shipped.request("POST", "/validate", body(pod(containers)))
    assert time.monotonic() - started < 2
    assert status == 200 and answer["response"]["allowed"] is False
    assert answer["response"]["status"]["message"] == (
        "denied by wfgy-rules: pod/llm/wide has 5010 command and args entries; this webhook judges at most 4096")


def test_a_body_with_too_many_values_is_refused_before_it_is_parsed(shipped):
    wide = pod([{"name": "server", "image": "x", "args": ["1"] * 200_000}])
    status, answer = shipped.request("POST", "/validate", body(wide))
    assert (status, answer) == (400, {"error": "body holds more than 100000 JSON values (commas and brackets counted before parsing)"})
    line = [line for line in shipped.log_lines() if line.get("status") == 400][-1]
    assert line["outcome"] == "refused" and line["reason"].startswith("body holds more than 100000")


WARN_MISSPELT = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: ["builtin:kubernetes"]
providers:
  kubernetes:
    declared_env: .env.example
rules:
  k8s.env-misspelled: {action: warn}
"""


def test_warnings_are_capped_as_the_api_server_keeps_them(tmp_path):
    running = start(tmp_path, config=WARN_MISSPELT)
    try:
        containers = [{"name": f"server-{i}", "image": "x", "env": [{"name": "OPEN_API_KEY", "value": ""}]} for i in range(200)]
        response = running.review(pod(containers))
        warnings = response["warnings"]
        assert response["allowed"] is True
        assert sum(map(len, warnings)) <= 4096 and all(len(w) <= 256 for w in warnings)
        kept = warnings[:-1]
        assert all(w.startswith("k8s.env-misspelled: pod/wide container server-") for w in kept)
        assert warnings[-1] == f"… and {200 - len(kept)} more warnings from wfgy-rules (the webhook log counts them)"
        (line,) = [line for line in running.log_lines() if line.get("uid") == "705ab4f5-6393-11e8-b7cc-42010a800002"]
        assert line["warnings"] == 200
    finally:
        stop(running)


SLOW_POLICY = """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: tags}
rules:
  - id: tags.no-latest
    title: no latest tag
    severity: high
    facts: [kubernetes]
    for_each: kubernetes.workloads[].containers[]
    assert: "!regex_match('.*:latest$', item.image)"
    remedy: {action: abort, hint: Pin the image.}
"""

SLOW_CONFIG = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: ["builtin:kubernetes", "tags.yaml"]
"""


def test_the_deadline_stops_the_judging(tmp_path):
    """A regex that is quadratic on a long image name: the review is denied at the deadline
    and no process of the server burns CPU on it afterwards."""
    running = start(tmp_path, "--timeout", "2", config=SLOW_CONFIG, files={"tags.yaml": SLOW_POLICY})
    try:
        slow = pod([{"name": f"c{i}", "image": "a" * 300_000} for i in range(6)])
        started = time.monotonic()
        status, answer = running.request("POST", "/validate", body(slow, uid="uid-slow"))
        assert time.monotonic() - started < 4
        assert status == 200 and answer["response"] == {"uid": "uid-slow", "allowed": False, "status": {
            "code": 403, "message": "wfgy-rules webhook: deadline exceeded; failure mode fail"}}
        before = _cpu_seconds(running.process.pid)
        time.sleep(1.5)
        assert _cpu_seconds(running.process.pid) - before < 0.3  # nothing judges on after the answer
        fine = pod([{"name": "server", "image": "vllm/vllm-openai:v0.6.3"}])
        assert running.review(fine, uid="uid-next")["uid"] == "uid-next"  # a fresh judge took its place
    finally:
        stop(running)


def _cpu_seconds(pid: int) -> float:
    """CPU time of the server (with its reaped children) and of its live judges."""
    ticks = 0
    for number, member in enumerate(process_tree(pid)):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if number == 0 else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def _worst_cases() -> list[bytes]:
    """Bodies near the default 3 MiB limit that cost the most to read or judge: the issue's
    100,000-container Pod (refused unread), and Pods just inside every bound — env entries,
    arguments, labels, tolerations (objects) — filled with text up to the limit."""
    many = pod([{"name": f"c{i:x}", "image": "x"} for i in range(100_000)])
    envs = pod([{"name": f"c{i}", "image": "vllm/vllm-openai:v0.6.3",
                 "env": [{"name": f"OPEN_API_KEY_{j}", "value": "v" * 680} for j in range(16)]} for i in range(256)])
    args = pod([{"name": "server", "image": "vllm/vllm-openai:v0.6.3", "args": [f"--x{i:04}=" + "a" * 740 for i in range(4094)]}])
    labels = pod([{"name": "server", "image": "x"}])
    labels["metadata"]["labels"] = {f"example.com/k{i:05}": "v" * 6 for i in range(99_000)}
    objects = pod([{"name": "server", "image": "x"}], tolerations=[{"key": f"k{i:05}", "operator": "Exists", "effect": "NoSchedule"} for i in range(24_000)])
    return [body(many), body(envs), body(args), body(labels), body(objects)]


def test_concurrent_worst_case_reviews_stay_under_the_shipped_memory_limit(tmp_path):
    limit = shipped_memory_limit()
    running = start(tmp_path, "--timeout", shipped_timeout())
    bodies = _worst_cases()
    assert all(len(b) <= 3 * 1024 * 1024 for b in bodies)
    sent = [bodies[shape] for shape in (0, 1, 0, 2, 0, 3, 0, 4) * 2]  # half of them the 100,000-container Pod
    peak = {"rss": 0, "pss": 0}
    done = threading.Event()

    def sample():  # the server's and its judges' memory together, every 10 ms
        while not done.is_set():
            tree = process_tree(running.process.pid)
            peak["rss"] = max(peak["rss"], sum(status_kib(pid, "VmRSS") for pid in tree) * 1024)
            peak["pss"] = max(peak["pss"], sum(status_kib(pid, "Pss", "smaps_rollup") for pid in tree) * 1024)
            time.sleep(0.01)

    answers: dict[int, object] = {}

    def client(number: int):
        try:
            answers[number] = running.request("POST", "/validate", sent[number])[0]
        except Exception as exc:  # noqa: BLE001 — shown in the failure
            answers[number] = repr(exc)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        clients = [threading.Thread(target=client, args=(number,)) for number in range(len(sent))]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(30)
        high_waters = [status_kib(pid, "VmHWM") * 1024 for pid in process_tree(running.process.pid)]
    finally:
        done.set()
        sampler.join()
        stop(running)
    outcomes = Counter(line["outcome"] for line in running.log_lines() if line.get("msg") == "admission review")
    print(f"peak PSS {peak['pss'] / 2**20:.1f} MiB, RSS {peak['rss'] / 2**20:.1f} MiB, VmHWM {[round(h / 2**20, 1) for h in high_waters]} MiB, "
          f"answers {answers}, {outcomes}")
    # Overload is answered, never a crash: a verdict, or past the deadline the failure mode
    # (200); a body refused unparsed (400); one that waited in vain for a share of the body
    # budget (503) or, on a starved machine, was not read by its deadline (408).
    assert len(answers) == len(sent) and set(answers.values()) <= {200, 400, 408, 503}
    assert outcomes["allowed"] + outcomes["denied"] >= 1 and "Traceback" not in (tmp_path / "serve.log").read_text()
    # PSS counts a page that the server and its judges (forked from it) share once, as the
    # container is charged for it; RSS would count it in each process (printed above).
    assert peak["pss"] < limit
