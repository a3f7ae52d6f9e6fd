"""Load test of `wfgy-rules serve` on loopback only (127.0.0.1), bounded in count and time.

    python bench/webhook_load.py [--requests 4000] [--concurrency 32] [--max-seconds 120]

Starts the webhook with a throwaway self-signed certificate (openssl CLI), then sends real
AdmissionReviews (a denied Pod and an admitted one, alternating) over TLS from
``--concurrency`` threads, each on its own keep-alive connection, until ``--requests`` are
answered or ``--max-seconds`` pass. Prints throughput, p50/p95/p99/max latency, errors
(anything but a 200 with the expected verdict) and the memory of the server and its judge
processes together (RSS and PSS) after a warm-up and at the end (memory must stay flat). Never binds or connects anywhere but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HOST = "127.0.0.1"
CONFIG = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: ["builtin:kubernetes"]
providers:
  model_card: {path: model-card.json}
  kubernetes: {declared_env: .env.example, required_secrets: [OPENAI_API_KEY]}
"""


def pod(env_name: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "support-bot-", "namespace": "llm"},
        "spec": {
            "initContainers": [{"name": "gate", "image": "wfgy-rules:0.1.0", "command": ["wfgy-rules", "preflight"]}],
            "containers": [{
                "name": "server", "image": "vllm/vllm-openai:v0.6.3",
                "env": [{"name": env_name, "valueFrom": {"secretKeyRef": {"name": "llm-keys", "key": "OPENAI_API_KEY"}}},
                        {"name": "LOG_LEVEL", "value": "info"}],
                "resources": {"limits": {"nvidia.com/gpu": "1"}},
            }],
        },
    }


def review(uid: str, obj: dict) -> bytes:
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "request": {"uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
                                   "namespace": "llm", "object": obj, "dryRun": False}}).encode()


def memory_kib(pid: int, figure: str) -> int:
    """The server's and its judge processes' (its children's) memory together, in KiB:
    ``Rss`` (shared pages counted in each process) or ``Pss`` (shared pages split between
    them, closer to what the container is charged)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    total = 0
    for member in (pid, *map(int, children)):
        try:
            lines = Path(f"/proc/{member}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in lines if line.startswith(figure + ":")), 0)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wfgy-webhook-bench-"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-keyout", str(work / "key.pem"), "-out", str(work / "cert.pem"), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    (work / "wfgy.yaml").write_text(CONFIG)
    (work / "model-card.json").write_text(json.dumps({"model": "acme/llm", "requires_gpu": True}))
    (work / ".env.example").write_text("OPENAI_API_KEY=  # secret\n")
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).parent / "wfgy-rules"
    server = subprocess.Popen([str(exe), "serve", "--cert", "cert.pem", "--key", "key.pem", "--config", "wfgy.yaml",
                               "--host", HOST, "--port", str(port)], cwd=work, stdout=subprocess.DEVNULL, stderr=open(work / "serve.log", "w"))
    context = ssl.create_default_context(cafile=str(work / "cert.pem"))
    try:
        _wait(port, context)
        bodies = [(review(f"bad-{i}", pod("OPEN_API_KEY")), False) for i in range(2)] + [(review(f"ok-{i}", pod("OPENAI_API_KEY")), True) for i in range(2)]
        _run(port, context, bodies, 200, args.concurrency, 30)  # warm-up
        before = {figure: memory_kib(server.pid, figure) for figure in ("Rss", "Pss")}
        latencies, errors, wall = _run(port, context, bodies, args.requests, args.concurrency, args.max_seconds)
        after = {figure: memory_kib(server.pid, figure) for figure in ("Rss", "Pss")}
    finally:
        server.terminate()
        server.wait(15)
    lines = [line for line in (work / "serve.log").read_text().splitlines() if line.startswith("{")]
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    figures = {
        "requests": len(latencies), "concurrency": args.concurrency, "errors": errors, "seconds": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 1),
        "p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else 0.0,
        "rss_after_warmup_mib": round(before["Rss"] / 1024, 1), "rss_at_end_mib": round(after["Rss"] / 1024, 1),
        "pss_after_warmup_mib": round(before["Pss"] / 1024, 1), "pss_at_end_mib": round(after["Pss"] / 1024, 1),
        "log_lines": len(lines), "cpus": os.cpu_count(),
    }
    for key, value in figures.items():
        print(f"{key:>22}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if errors == 0 else 1


def _wait(port: int, context: ssl.SSLContext) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPSConnection(HOST, port, context=context, timeout=2)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                return
        except (OSError, ssl.SSLError):
            time.sleep(0.1)
    raise SystemExit("the webhook did not start")


def _run(port: int, context: ssl.SSLContext, bodies: list[tuple[bytes, bool]], count: int, concurrency: int, max_seconds: float):
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    remaining = [count]
    stop_at = time.monotonic() + max_seconds

    def worker(offset: int) -> None:
        connection = http.client.HTTPSConnection(HOST, port, context=context, timeout=15)
        i = offset
        while time.monotonic() < stop_at:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            body, expected = bodies[i % len(bodies)]
            i += 1
            started = time.perf_counter()
            try:
                connection.request("POST", "/validate", body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = json.loads(response.read())
                ok = response.status == 200 and payload["response"]["allowed"] is expected
            except (OSError, ssl.SSLError, http.client.HTTPException, ValueError, KeyError):
                ok = False
                connection.close()
                connection = http.client.HTTPSConnection(HOST, port, context=context, timeout=15)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors[0] += 0 if ok else 1
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors[0], time.monotonic() - started


if __name__ == "__main__":
    sys.exit(main())
