"""A running ``wfgy-rules serve`` on 127.0.0.1 with a throwaway CA and server certificate."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import cli_command

pytest.importorskip("uvicorn", reason="the serve extra is not installed (pip install uvicorn)")
x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

CONFIG = """\
apiVersion: wfgy-rules/v1
kind: Config
policies: ["builtin:kubernetes"]
providers:
  model_card: {path: model-card.json}
  kubernetes:
    declared_env: .env.example
    required_secrets: [OPENAI_API_KEY]
rules:
  k8s.gate-present: {action: warn}     # advisory here: comes back as a warning
"""


def make_ca(name: str) -> tuple:
    """A CA certificate and key, with the extensions strict verification (Python 3.13's
    default ``VERIFY_X509_STRICT``) asks for."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def issue(ca: tuple, directory: Path, cn: str = "wfgy-webhook.wfgy-system.svc") -> None:
    """cert.pem / key.pem for 127.0.0.1 and the Service's DNS name, signed by ``ca`` (the key
    replaced first, then the certificate)."""
    key_pem, cert_pem = pair(ca, cn)
    (directory / "key.pem.tmp").write_bytes(key_pem)
    (directory / "cert.pem.tmp").write_bytes(cert_pem)
    (directory / "key.pem.tmp").replace(directory / "key.pem")
    (directory / "cert.pem.tmp").replace(directory / "cert.pem")


def pair(ca: tuple, cn: str = "wfgy-webhook.wfgy-system.svc") -> tuple[bytes, bytes]:
    """A new private key and its certificate (PEM) for 127.0.0.1 and ``cn``, signed by ``ca``."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName(cn)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def pem(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, directory: Path, ca: tuple, process: subprocess.Popen, port: int):
        self.directory, self.ca, self.process, self.port = directory, ca, process, port

    def context(self, ca=None) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=pem((ca or self.ca)[0]))

    def request(self, method: str, path: str, body: bytes | None = None, ca=None, headers: dict | None = None) -> tuple[int, dict]:
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context(ca), timeout=10)
        try:
            connection.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            connection.close()

    def review(self, obj: dict, dry_run: bool = False, uid: str = "705ab4f5-6393-11e8-b7cc-42010a800002") -> dict:
        status, body = self.request("POST", "/validate", json.dumps(admission_review(obj, dry_run, uid)).encode())
        assert status == 200, body
        return body["response"]

    def log_lines(self) -> list[dict]:
        text = (self.directory / "serve.log").read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def admission_review(obj: dict, dry_run: bool = False, uid: str = "705ab4f5-6393-11e8-b7cc-42010a800002") -> dict:
    """A Pod CREATE as kube-apiserver sends it (Kubernetes API reference, AdmissionReview v1)."""
    meta = obj.get("metadata", {})
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", "llm"),
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller", "uid": "b7a1c4e2", "groups": ["system:serviceaccounts", "system:authenticated"]},
            "object": obj,
            "oldObject": None,
            "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def start(directory: Path, *extra: str, config: str = CONFIG, files: dict[str, str] | None = None) -> Server:
    """``wfgy-rules serve EXTRA…`` in ``directory`` with ``config`` (and ``files`` beside it)."""
    ca = make_ca("wfgy test CA")
    issue(ca, directory)
    (directory / "wfgy.yaml").write_text(config)
    (directory / "model-card.json").write_text(json.dumps({"model": "acme/support-llm-7b", "requires_gpu": True}))
    (directory / ".env.example").write_text("OPENAI_API_KEY=   # secret\nLOG_LEVEL=info   # optional\n")
    for name, text in (files or {}).items():
        (directory / name).write_text(text)
    port = free_port()
    log = open(directory / "serve.log", "w")
    process = subprocess.Popen([*cli_command(), "serve", "--cert", "cert.pem", "--key", "key.pem", "--config", "wfgy.yaml",
                                "--host", "127.0.0.1", "--port", str(port), *extra], cwd=directory, stdout=log, stderr=subprocess.STDOUT)
    server = Server(directory, ca, process, port)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if server.request("GET", "/healthz")[0] == 200:
                return server
        except (OSError, ssl.SSLError):
            time.sleep(0.1)
    stop(server)  # never left running, whatever went wrong
    raise AssertionError("server did not start: " + (directory / "serve.log").read_text())


def stop(server: Server) -> None:
    """SIGTERM, then check that no judge process outlived the server."""
    judges = process_tree(server.process.pid)[1:]
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(map(running, judges)):
        time.sleep(0.05)
    left = [pid for pid in judges if running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"judge processes {left} outlived the server"


def process_tree(pid: int) -> list[int]:
    """The server and its judge processes (its children)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *map(int, children)]


def status_kib(pid: int, field: str, source: str = "status") -> int:
    """A memory figure of a process in KiB, 0 once it is gone: from ``/proc/PID/status``
    (VmRSS, VmHWM) or, with ``source="smaps_rollup"``, Pss (its resident pages, each shared
    one split between the processes that share it: what the processes together are charged)."""
    try:
        text = Path(f"/proc/{pid}/{source}").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start(tmp_path_factory.mktemp("webhook"), "--timeout", "2", "--reload-interval", "0.2", "--max-body", "200000")
    yield running
    stop(running)
