"""DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1)::

    {"payloadType": "application/vnd.in-toto+json",
     "payload": "<base64 of the statement>",
     "signatures": [{"keyid": "<sha256 of the public key>", "sig": "<base64>"}]}

The signature is over the pre-authentication encoding (PAE) of the type and the payload,
never over the JSON of the envelope, so re-encoding the envelope cannot change what was
signed and changing a byte of the payload breaks it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from wfgy_rules.attest import keys

PAYLOAD_TYPE = "application/vnd.in-toto+json"
_URLSAFE = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")


class EnvelopeError(Exception):
    """The envelope is malformed or no signature verifies (exit 1)."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """``DSSEv1 SP LEN(type) SP type SP LEN(body) SP body``, lengths in ASCII decimal bytes."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def seal(payload: bytes, private_key: Any) -> dict[str, Any]:
    signature = keys.sign(private_key, pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": keys.key_id(private_key.public_key()), "sig": base64.b64encode(signature).decode()}],
    }


def open_envelope(envelope: Any, public_key: Any) -> tuple[bytes, str]:
    """The payload and the id of the key that verified it; `EnvelopeError` otherwise."""
    if not isinstance(envelope, dict) or not {"payload", "payloadType", "signatures"} <= set(envelope):
        raise EnvelopeError("not a DSSE envelope (expected payload, payloadType and signatures)")
    if envelope["payloadType"] != PAYLOAD_TYPE:
        raise EnvelopeError(f"payloadType is {json.dumps(envelope['payloadType'])}, expected {PAYLOAD_TYPE}")
    payload = _b64(envelope["payload"], "payload")
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or not signatures:
        raise EnvelopeError("the envelope has no signatures")
    message = pae(PAYLOAD_TYPE, payload)
    for entry in signatures:
        if isinstance(entry, dict) and isinstance(entry.get("sig"), str):
            try:
                signature = _b64(entry["sig"], "sig")
            except EnvelopeError:
                continue
            if keys.verify(public_key, signature, message):
                return payload, keys.key_id(public_key)
    raise EnvelopeError(f"no signature verifies with key {keys.key_id(public_key)[:16]}… (tampered, or signed with another key)")


def _b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise EnvelopeError(f"{what} is not base64 text")
    try:
        return base64.b64decode(text.encode(), validate=True)
    except (binascii.Error, ValueError):
        pass
    if _URLSAFE.match(text):  # DSSE allows the URL-safe alphabet, padding optional
        try:
            return base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            pass
    raise EnvelopeError(f"{what} is not base64")
