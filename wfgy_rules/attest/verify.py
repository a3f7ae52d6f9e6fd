"""``verify-attestation FILE --key PUB``: does the envelope verify, and is its payload a
verdict statement? The verdict inside does not change the answer unless ``--require-pass``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wfgy_rules.attest.dsse import EnvelopeError, open_envelope
from wfgy_rules.attest.statement import check_statement


@dataclass(frozen=True)
class Verified:
    key_id: str
    statement: dict[str, Any]


def verify_text(text: str, public_key: Any) -> Verified:
    """`EnvelopeError` with a one-line reason unless ``text`` is a verifying envelope of a verdict."""
    try:
        envelope = json.loads(text)
    except ValueError:
        raise EnvelopeError("not JSON, so not a DSSE envelope") from None
    if isinstance(envelope, dict) and "_type" in envelope and "payload" not in envelope:
        raise EnvelopeError("an unsigned statement, not a DSSE envelope (write it with --sign-key)")
    payload, key_id = open_envelope(envelope, public_key)
    try:
        statement = json.loads(payload)
    except ValueError:
        raise EnvelopeError("the signed payload is not JSON") from None
    problems = check_statement(statement)
    if problems:
        raise EnvelopeError("the signed payload is not a wfgy-rules verdict statement: " + "; ".join(problems))
    return Verified(key_id, statement)
