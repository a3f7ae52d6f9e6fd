"""Verifiable verdicts: ``--attest`` writes an in-toto Statement v1 (signed: a DSSE
envelope), ``verify-attestation`` checks it, and an independent DSSE implementation
(``securesystemslib``) agrees with us both ways; tampering and the wrong key are refused."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from tests.helpers import REPO, run_cli
from wfgy_rules.attest.dsse import PAYLOAD_TYPE, pae
from wfgy_rules.attest.keys import key_id

EXAMPLE = REPO / "policies.example"


def write_keys(directory: Path, kind: str) -> tuple[Path, Path, object]:
    private = ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    pem, pub = directory / f"{kind}.pem", directory / f"{kind}.pub"
    pem.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    pub.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return pem, pub, private


@pytest.fixture
def example(tmp_path: Path) -> Path:
    target = tmp_path / "example"
    shutil.copytree(EXAMPLE, target)
    return target


def payload_of(path: Path) -> dict:
    return json.loads(base64.b64decode(json.loads(path.read_text())["payload"]))


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa"])
def test_preflight_attestation_verifies_here_and_with_securesystemslib(example, tmp_path, kind):
    pem, pub, private = write_keys(tmp_path, kind)
    out = tmp_path / "verdict.dsse.json"
    done = run_cli("preflight", "--format", "json", "--attest", str(out), "--sign-key", str(pem), cwd=example)
    assert done.returncode == 1  # the example fails on purpose; the verdict is still attested
    report = json.loads(done.stderr[done.stderr.index("{"):])
    statement = payload_of(out)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://wfgy-rules.dev/attestation/verdict/v1"
    assert [s["name"] for s in statement["subject"]] == ["model-card.json", "model/tokenizer.json"]
    assert statement["subject"][1]["digest"]["sha256"] in next(
        r for r in report["results"] if r["rule_id"] == "semvers.tokenizer-sha")["message"]
    predicate = statement["predicate"]
    assert (predicate["outcome"], predicate["forced"], predicate["mode"]) == ("fail", False, "preflight")
    assert predicate["policy_digest"] == report["policy_digest"] and predicate["facts_digest"] == report["facts_digest"]
    assert "semvers.tokenizer-sha" in predicate["failing"] and predicate["waived"] == []

    verified = run_cli("verify-attestation", str(out), "--key", str(pub))
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith(f"verified: {out}: signed by key ") and "verdict fail;" in verified.stdout
    assert run_cli("verify-attestation", str(out), "--key", str(pub), "--require-pass").returncode == 1

    # securesystemslib: its own PAE and key handling accept our envelope.
    envelope = Envelope.from_dict(json.loads(out.read_text()))
    key = SSlibKey.from_crypto(private.public_key(), keyid=key_id(private.public_key()))
    assert list(envelope.verify([key], 1)) == [key.keyid]
    assert envelope.payload_type == PAYLOAD_TYPE and json.loads(envelope.pae()[len(pae(PAYLOAD_TYPE, b"")) - 1:].split(b" ", 1)[1]) == statement


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa"])
def test_an_envelope_signed_by_securesystemslib_verifies_here(tmp_path, kind):
    pem, pub, private = write_keys(tmp_path, kind)
    statement = {"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "app", "digest": {"sha256": "ab" * 32}}],
                 "predicateType": "https://wfgy-rules.dev/attestation/verdict/v1",
                 "predicate": {"outcome": "pass", "forced": False, "policy_digest": "sha256:x", "facts_digest": "sha256:y", "stage": "ci",
                               "selection": {"only": [], "skip": [], "disabled": []}, "judged": {"team.max-len": "pass"},
                               "failing": [], "waived": []}}
    envelope = Envelope(json.dumps(statement).encode(), PAYLOAD_TYPE, {})
    envelope.sign(CryptoSigner(private, SSlibKey.from_crypto(private.public_key(), keyid=key_id(private.public_key()))))
    path = tmp_path / "theirs.json"
    path.write_text(json.dumps(envelope.to_dict()))
    done = run_cli("verify-attestation", str(path), "--key", str(pub), "--require-pass")
    assert done.returncode == 0 and "verdict pass;" in done.stdout, done.stderr


def test_tampered_envelopes_and_wrong_keys_are_refused(example, tmp_path):
    pem, pub, private = write_keys(tmp_path, "ed25519")
    _, other_pub, _ = write_keys(tmp_path / "..", "ecdsa")
    out = tmp_path / "v.json"
    assert run_cli("eval", "--attest", str(out), "--sign-key", str(pem), "--force", cwd=example).returncode == 0
    assert payload_of(out)["predicate"]["forced"] is True
    assert run_cli("verify-attestation", str(out), "--key", str(pub)).returncode == 0
    assert run_cli("verify-attestation", str(out), "--key", str(pub), "--require-pass").returncode == 1  # forced is not a pass

    envelope = json.loads(out.read_text())
    statement = payload_of(out)
    statement["predicate"]["forced"] = False
    forged = dict(envelope, payload=base64.b64encode(json.dumps(statement).encode()).decode())
    cases = {
        "payload": (forged, "no signature verifies with key"),
        "payloadType": (dict(envelope, payloadType="application/json"), 'payloadType is "application/json"'),
        "no signatures": (dict(envelope, signatures=[]), "the envelope has no signatures"),
        "bad base64": (dict(envelope, payload="%%%"), "payload is not base64"),
        "not an envelope": ({"hello": 1}, "not a DSSE envelope"),
    }
    for name, (data, reason) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        done = run_cli("verify-attestation", str(path), "--key", str(pub))
        assert done.returncode == 1 and done.stderr.startswith(f"not verified: {path}: {reason}"), (name, done.stderr)
        assert "Traceback" not in done.stderr
    with pytest.raises(VerificationError):  # the independent implementation agrees
        Envelope.from_dict(forged).verify([SSlibKey.from_crypto(private.public_key(), keyid=key_id(private.public_key()))], 1)
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe garbage")
    assert run_cli("verify-attestation", str(tmp_path / "binary.json"), "--key", str(pub)).returncode == 1
    wrong = run_cli("verify-attestation", str(out), "--key", str(other_pub))
    assert wrong.returncode == 1 and "(tampered, or signed with another key)" in wrong.stderr


def test_unsigned_statement_with_an_image_subject(project, tmp_path):
    out = tmp_path / "statement.json"
    image = "registry.example/team/app@sha256:" + "0123456789abcdef" * 4
    done = run_cli("eval", "--attest", str(out), "--subject", image, cwd=project)
    assert done.returncode == 0, done.stderr
    statement = json.loads(out.read_text())
    assert statement["subject"] == [{"name": "registry.example/team/app", "digest": {"sha256": "0123456789abcdef" * 4}}]
    assert statement["predicate"]["outcome"] == "pass" and statement["predicate"]["failing"] == []
    again = tmp_path / "again.json"
    run_cli("eval", "--attest", str(again), "--subject", image, cwd=project)
    assert again.read_bytes() == out.read_bytes()  # no timestamp: the same verdict, the same statement
    _, pub, _ = write_keys(tmp_path, "ed25519")
    done = run_cli("verify-attestation", str(out), "--key", str(pub))
    assert done.returncode == 1 and "an unsigned statement, not a DSSE envelope" in done.stderr


def test_the_fact_bundle_is_the_subject_when_nothing_else_is_known(project, tmp_path):
    out = tmp_path / "s.json"
    assert run_cli("eval", "--attest", str(out), "--format", "json", cwd=project).returncode == 0
    statement = json.loads(out.read_text())
    (subject,) = statement["subject"]
    assert subject["name"] == "facts.json" and "sha256:" + subject["digest"]["sha256"] == statement["predicate"]["facts_digest"]


def test_bad_keys_and_subjects_are_invalid_input(project, tmp_path):
    encrypted = tmp_path / "enc.pem"
    encrypted.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")))
    (tmp_path / "junk.pem").write_text("not a key\n")
    out = str(tmp_path / "a.json")
    for args, line in (
        (["eval", "--attest", out, "--sign-key", str(encrypted)], "the private key is encrypted"),
        (["eval", "--attest", out, "--sign-key", str(tmp_path / "junk.pem")], "not a PEM private key"),
        (["eval", "--attest", out, "--sign-key", str(tmp_path / "nope.pem")], "no such private key file"),
        (["eval", "--attest", out, "--subject", "app@sha256:xyz"], "expected NAME@sha256:HEX"),
        (["preflight", "--subject", "app@sha256:" + "0" * 64], "--subject and --sign-key go with --attest FILE"),
        (["verify-attestation", out, "--key", str(tmp_path / "junk.pem")], "not a PEM public key"),
    ):
        done = run_cli(*args, cwd=project)
        assert done.returncode == 2 and line in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    assert not Path(out).exists()
