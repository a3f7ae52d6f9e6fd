"""``wfgy-rules serve``'s TLS over real sockets: a rotation that goes wrong half-way keeps the
served certificate, and connections are bounded from the TCP accept, handshake included."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.webhook.conftest import make_ca, pair, pem, start, stop


def _served_by(running, ca_certs: list) -> tuple[str, str]:
    """Connect while trusting every CA in ``ca_certs``: ("ok", the issuer CN of the
    certificate served), or ("failed", the error that ended the handshake)."""
    context = ssl.create_default_context(cadata="".join(pem(cert) for cert in ca_certs))
    try:
        with socket.create_connection(("127.0.0.1", running.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                issuer = dict(part[0] for part in tls.getpeercert()["issuer"])
                return ("ok", issuer["commonName"])
    except (OSError, ssl.SSLError) as exc:
        return ("failed", type(exc).__name__)


def _replace(path: Path, data: bytes) -> None:
    path.with_suffix(".tmp").write_bytes(data)
    path.with_suffix(".tmp").replace(path)


def test_a_mismatched_pair_keeps_the_served_certificate_until_the_whole_pair_arrives(tmp_path):
    running = start(tmp_path, "--reload-interval", "0.1")
    renewed = make_ca("renewed CA")
    seen: list[tuple[str, ...]] = []
    stopping = threading.Event()

    def client():  # keeps connecting, trusting the old CA and the new one
        while not stopping.is_set():
            seen.append(_served_by(running, [running.ca[0], renewed[0]]))
            time.sleep(0.02)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        time.sleep(0.3)
        key_pem, cert_pem = pair(renewed)
        _replace(tmp_path / "cert.pem", cert_pem)  # the certificate renewed before its key: a mismatched pair
        time.sleep(1.5)  # fifteen reload checks
        during = list(seen)
        _replace(tmp_path / "key.pem", key_pem)  # now the pair is whole
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and seen[-1] != ("ok", "renewed CA"):
            time.sleep(0.05)
    finally:
        stopping.set()
        thread.join()
        stop(running)
    assert during and set(during) == {("ok", "wfgy test CA")}  # every handshake served the current certificate
    assert seen[-1] == ("ok", "renewed CA")
    assert all(outcome[0] == "ok" for outcome in seen)
    messages = [line["msg"] for line in running.log_lines() if "TLS" in line.get("msg", "")]
    assert messages == ["TLS reload failed; keeping the current certificate", "TLS certificate reloaded"]


def test_a_client_that_never_starts_the_handshake_is_closed_at_the_deadline(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        started = time.monotonic()
        assert server.request("GET", "/healthz")[0] == 200  # others are served meanwhile
        try:
            closed = raw.recv(100)
        except ConnectionResetError:
            closed = b""
        assert closed == b""
        assert 1.5 < time.monotonic() - started < 6  # --timeout 2, not asyncio's 60 s handshake timeout


def test_connections_in_their_handshake_count_against_max_connections(tmp_path):
    running = start(tmp_path, "--timeout", "2", "--max-connections", "4")
    silent = []
    try:
        assert running.request("GET", "/healthz")[0] == 200
        silent = [socket.create_connection(("127.0.0.1", running.port), timeout=10) for _ in range(4)]
        time.sleep(0.3)
        held = time.monotonic()
        with pytest.raises(OSError):  # the fifth is closed at once, before TLS
            running.request("GET", "/healthz")
        assert time.monotonic() - held < 1
        for raw in silent:  # the deadline frees the four slots...
            raw.settimeout(6)
            try:
                assert raw.recv(100) == b""
            except ConnectionResetError:
                pass
        assert running.request("GET", "/healthz")[0] == 200  # ...and the next client is served
    finally:
        for raw in silent:
            raw.close()
        stop(running)


def test_a_failed_handshake_frees_its_slot(tmp_path):
    running = start(tmp_path, "--max-connections", "2")
    try:
        stranger = make_ca("someone else")
        for _ in range(5):  # more failed handshakes than slots
            with pytest.raises(ssl.SSLCertVerificationError):
                running.request("GET", "/healthz", ca=stranger)
        assert running.request("GET", "/healthz")[0] == 200
    finally:
        stop(running)


def test_a_mismatched_pair_or_no_connection_slot_is_refused_at_start(tmp_path):
    ca = make_ca("wfgy test CA")
    _, cert_pem = pair(ca)
    other_key, _ = pair(ca)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(other_key)
    mismatched = run_cli("serve", "--cert", "cert.pem", "--key", "key.pem", "--port", "0", cwd=tmp_path, timeout=20)
    no_slot = run_cli("serve", "--cert", "cert.pem", "--key", "key.pem", "--max-connections", "0", cwd=tmp_path, timeout=20)
    for done in (mismatched, no_slot):
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert "cert.pem, key.pem: not a usable certificate and key (SSLError)" in mismatched.stderr
    assert "--max-connections must be at least 1" in no_slot.stderr
