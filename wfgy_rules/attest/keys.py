"""Signing keys for DSSE envelopes: ed25519 or ECDSA P-256 (SHA-256, DER signatures, as
``securesystemslib``'s ``ecdsa-sha2-nistp256``), PEM files, through ``cryptography``.

``cryptography`` is the optional extra ``attest`` (``pip install cryptography``, or the ``[attest]`` extra):
unsigned statements need only hashlib, and the gate's cold start never pays for it. A
key's id is the sha256 (hex) of its public key's DER SubjectPublicKeyInfo, so anyone with
the public key can compute it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from wfgy_rules.errors import Problem, UsageError

EXTRA_HINT = "signing and verifying need the 'cryptography' package (the attest extra): pip install cryptography"


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise UsageError(EXTRA_HINT) from None
    return serialization


def _read(path: str, what: str) -> bytes:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path}: no such {what} file", [Problem(path, f"no such {what} file")])
    data = file.read_bytes()[: 1 << 20]
    if b"-----BEGIN" not in data:
        raise UsageError(f"{path}: not a PEM {what}", [Problem(path, f"not a PEM {what} (expected -----BEGIN …)")])
    return data


def load_private_key(path: str) -> Any:
    """An ed25519 or P-256 private key from an unencrypted PEM file (exit 2 otherwise)."""
    serialization = _crypto()
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise UsageError(path, [Problem(path, "the private key is encrypted; give an unencrypted PEM (keep it in a secret mount)")]) from None
    except ValueError:
        raise UsageError(path, [Problem(path, "not a PEM private key")]) from None
    _check_type(key.public_key(), path)
    return key


def load_public_key(path: str) -> Any:
    """An ed25519 or P-256 public key from a PEM file (a private key's public half is taken)."""
    serialization = _crypto()
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (TypeError, ValueError):
            raise UsageError(path, [Problem(path, "not a PEM public key")]) from None
    _check_type(key, path)
    return key


def _check_type(public: Any, path: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(public, ed25519.Ed25519PublicKey):
        return
    if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1":
        return
    raise UsageError(path, [Problem(path, f"unsupported key type {type(public).__name__}; use ed25519 or ECDSA P-256")])


def key_id(public: Any) -> str:
    serialization = _crypto()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def sign(private: Any, message: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(private, ec.EllipticCurvePrivateKey):
        return private.sign(message, ec.ECDSA(hashes.SHA256()))
    return private.sign(message)


def verify(public: Any, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            public.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
