"""``wfgy-rules serve`` over real TLS on 127.0.0.1: verdicts, refusals, hostile clients, reloads."""

from __future__ import annotations

import copy
import json
import socket
import ssl
import time

import pytest

from tests.webhook.conftest import admission_review, issue, make_ca

CANARY = "sk-proj-webhook-canary-7f3a91"

BAD_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"generateName": "support-bot-7d9f8c6b5-", "namespace": "llm", "labels": {"app": "support-bot"}},
    "spec": {
        "initContainers": [{"name": "wfgy-preflight", "image": "ghcr.io/example/wfgy-rules:0.1.0",
                            "command": ["wfgy-rules", "preflight", "--config", "/etc/wfgy/wfgy.yaml"]}],
        "containers": [{
            "name": "server",
            "image": "vllm/vllm-openai:v0.6.3",
            "args": ["--model", "/models/llm", "--api-key", CANARY],
            "env": [
                {"name": "OPEN_API_KEY", "valueFrom": {"secretKeyRef": {"name": "llm-keys", "key": "OPENAI_API_KEY"}}},
                {"name": "VLLM_API_KEY", "value": CANARY},
            ],
            "resources": {"limits": {"nvidia.com/gpu": "1"}},
        }],
    },
}


def fixed(pod: dict) -> dict:
    pod = copy.deepcopy(pod)
    container = pod["spec"]["containers"][0]
    container["env"] = [{"name": "OPENAI_API_KEY", "valueFrom": {"secretKeyRef": {"name": "llm-keys", "key": "OPENAI_API_KEY"}}}]
    return pod


def test_the_misspelt_pod_is_denied_and_the_fixed_one_admitted(server):
    denied = server.review(BAD_POD, uid="uid-bad")
    assert denied["uid"] == "uid-bad" and denied["allowed"] is False
    assert denied["status"]["code"] == 403
    message = denied["status"]["message"]
    assert "k8s.env-misspelled: pod/support-bot-7d9f8c6b5- container server: OPEN_API_KEY is set; did you mean OPENAI_API_KEY?" in message
    assert "k8s.secrets-referenced" in message and "k8s.no-literal-credentials" in message
    admitted = server.review(fixed(BAD_POD), uid="uid-good")
    assert admitted == {"uid": "uid-good", "allowed": True}


def test_non_blocking_failures_come_back_as_warnings(server):
    pod = fixed(BAD_POD)
    del pod["spec"]["initContainers"]  # no gate: k8s.gate-present is `warn` in this config
    response = server.review(pod)
    assert response["allowed"] is True
    assert response["warnings"] == ["k8s.gate-present: pod/support-bot-7d9f8c6b5-: no container runs `wfgy-rules preflight` (neither an init container nor the entrypoint)"]


def test_dry_run_is_judged_and_logged_as_such(server):
    response = server.review(BAD_POD, dry_run=True, uid="uid-dry")
    assert response["allowed"] is False
    (line,) = [line for line in server.log_lines() if line.get("uid") == "uid-dry"]
    assert line["dry_run"] is True and line["outcome"] == "denied" and "k8s.env-misspelled" in line["denied_by"]
    assert {"time", "kind", "namespace", "name", "operation", "duration_ms", "warnings"} <= line.keys()


def test_no_secret_value_in_answers_or_logs(server):
    status, body = server.request("POST", "/validate", json.dumps(admission_review(BAD_POD)).encode())
    assert status == 200 and CANARY not in json.dumps(body)
    assert CANARY not in (server.directory / "serve.log").read_text()


def test_health_and_readiness(server):
    assert server.request("GET", "/healthz") == (200, {"status": "ok"})
    assert server.request("GET", "/readyz") == (200, {"status": "ready"})
    assert server.request("GET", "/nope")[0] == 404
    assert server.request("GET", "/validate")[0] == 405


@pytest.mark.parametrize("body,status", [
    (b"{not json", 400),
    (b"[]", 400),
    (json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "x"}}).encode(), 400),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}).encode(), 400),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "x", "object": "pod"}}).encode(), 400),
    (b"\xff\xfe\x00garbage", 400),
])
def test_malformed_reviews_are_refused_cleanly(server, body, status):
    got, answer = server.request("POST", "/validate", body)
    assert got == status and "error" in answer
    assert server.request("GET", "/healthz")[0] == 200


def _nested(depth: int) -> dict:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "uid-deep", "object": {"kind": "Pod", "metadata": {"annotations": {"deep": value}}}}}


@pytest.mark.parametrize("body", [
    b"[" * 90_000 + b"]" * 90_000,  # deeper than the parser's recursion
    b'{"a":' * 30_000 + b"1" + b"}" * 30_000,
    json.dumps(_nested(600)).encode(),  # inside a review: deeper than fact bundles may nest
], ids=["arrays", "objects", "in-a-review"])
def test_a_deeply_nested_body_is_not_json(server, body):
    status, answer = server.request("POST", "/validate", body)
    assert (status, answer) == (400, {"error": "body is not JSON: nested deeper than 512 levels"})
    assert "Traceback" not in (server.directory / "serve.log").read_text()
    assert server.request("GET", "/healthz")[0] == 200


def test_a_delete_has_no_object_and_is_admitted(server):
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
              "request": {"uid": "uid-del", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "DELETE", "object": None}}
    status, body = server.request("POST", "/validate", json.dumps(review).encode())
    assert (status, body["response"]) == (200, {"uid": "uid-del", "allowed": True})


def test_an_oversized_body_is_refused_by_its_length_and_when_streamed(server):
    big = b"{" + b" " * 300_000 + b"}"
    assert server.request("POST", "/validate", big)[0] == 413
    sock = _tls_socket(server)
    sock.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b" " * 100_000
    try:
        for _ in range(3):
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass
    assert b" 413 " in _read_status(sock)
    sock.close()
    assert server.request("GET", "/healthz")[0] == 200


def test_a_slow_client_gets_408_and_others_are_served_meanwhile(server):
    sock = _tls_socket(server)
    sock.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
    started = time.monotonic()
    assert server.review(fixed(BAD_POD))["allowed"] is True  # served while the slow one waits
    assert b" 408 " in _read_status(sock)
    assert time.monotonic() - started < 5  # the deadline (--timeout 2), not the client, ends it
    sock.close()


@pytest.mark.parametrize("head", [b"", b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: appl"], ids=["silent", "trickling"])
def test_a_client_without_a_whole_request_head_is_disconnected_at_the_deadline(server, head):
    sock = _tls_socket(server)
    sock.sendall(head)
    started = time.monotonic()
    assert server.review(fixed(BAD_POD))["allowed"] is True  # others are served meanwhile
    assert _until_closed(sock) == b""
    assert 1.5 < time.monotonic() - started < 6  # the deadline (--timeout 2) ends it, not the client
    sock.close()


def test_the_next_request_on_a_kept_alive_connection_has_the_same_deadline(server):
    sock = _tls_socket(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while not first.endswith(b"}"):  # the whole first answer: status, headers, body
        first += sock.recv(200)
    assert b" 200 " in first
    time.sleep(0.5)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHo")  # within the keep-alive time, then nothing more
    started = time.monotonic()
    assert _until_closed(sock) == b""
    assert 1.5 < time.monotonic() - started < 6
    sock.close()


def _until_closed(sock: ssl.SSLSocket, limit: float = 10) -> bytes:
    """What the server sends before it closes the connection (b"" when it just closes)."""
    sock.settimeout(limit)
    received = b""
    while True:
        try:
            part = sock.recv(200)
        except (ConnectionResetError, ssl.SSLError):
            return received
        if not part:
            return received
        received += part


def test_a_client_that_does_not_trust_the_certificate_fails_the_handshake_and_the_server_goes_on(server):
    stranger = make_ca("someone else")
    with pytest.raises(ssl.SSLCertVerificationError):
        server.request("GET", "/healthz", ca=stranger)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:  # plain HTTP to the TLS port
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            raw.recv(100)
        except OSError:
            pass
    assert server.request("GET", "/healthz")[0] == 200


def test_a_renewed_certificate_is_served_without_a_restart(tmp_path_factory):
    from tests.webhook.conftest import start, stop

    running = start(tmp_path_factory.mktemp("reload"), "--reload-interval", "0.2")
    try:
        renewed = make_ca("renewed CA")
        issue(renewed, running.directory)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if running.request("GET", "/healthz", ca=renewed)[0] == 200:
                    break
            except ssl.SSLError:
                time.sleep(0.2)
        else:
            raise AssertionError("the renewed certificate was never served")
        with pytest.raises(ssl.SSLCertVerificationError):
            running.request("GET", "/healthz")  # the old CA no longer verifies it
        assert any(line.get("msg") == "TLS certificate reloaded" for line in running.log_lines())
    finally:
        stop(running)


def test_sigterm_stops_the_server_cleanly(tmp_path_factory):
    from tests.webhook.conftest import start, stop

    running = start(tmp_path_factory.mktemp("stop"))
    stop(running)
    assert running.process.returncode in (0, -15)  # uvicorn finishes in-flight reviews, then re-raises SIGTERM
    assert "Traceback" not in (running.directory / "serve.log").read_text()


def _tls_socket(server) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return server.context().wrap_socket(raw, server_hostname="127.0.0.1")


def _read_status(sock: ssl.SSLSocket) -> bytes:
    try:
        return sock.recv(200)
    except (ConnectionResetError, ssl.SSLError):
        return b""
