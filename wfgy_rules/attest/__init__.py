"""Verdicts an auditor can verify: an in-toto Statement (v1) about what was judged, with the
verdict as its predicate, optionally signed in a DSSE envelope.

``eval``/``preflight --attest FILE [--subject NAME@sha256:HEX]… [--sign-key PEM]`` write it
(`wfgy_rules.attest.request`); ``verify-attestation FILE --key PUB`` checks it
(`wfgy_rules.attest.verify`). The statement is built by `statement`, the envelope by `dsse`,
keys are read by `keys` (ed25519 or ECDSA P-256, through ``cryptography``: the optional extra
``wfgy-rules[attest]``, imported only when a key is used).
"""
