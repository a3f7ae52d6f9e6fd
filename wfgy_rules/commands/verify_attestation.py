"""``wfgy-rules verify-attestation FILE --key PUB [--require-pass]``.

Exit 0 when the DSSE envelope's signature verifies with the key and its payload is a verdict
statement, whatever the verdict; with ``--require-pass`` also 1 for a failing or forced
verdict. A tampered envelope, another key's signature or a malformed statement is exit 1
with one line saying why; a missing file or an unreadable key is exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

from wfgy_rules.attest.dsse import EnvelopeError
from wfgy_rules.attest.keys import load_public_key
from wfgy_rules.attest.verify import verify_text
from wfgy_rules.documents.yamlio import read_text
from wfgy_rules.errors import Problem, UsageError, WfgyError
from wfgy_rules.exit_codes import ExitCode


def run(path: str, key: str, require_pass: bool) -> int:
    public = load_public_key(key)
    if not Path(path).is_file():
        raise UsageError(f"{path}: no such file", [Problem(path, "no such attestation file")])
    try:
        verified = verify_text(read_text(Path(path), path), public)
    except EnvelopeError as exc:
        print(f"not verified: {path}: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    except WfgyError as exc:  # not UTF-8, too large: not an envelope we wrote
        print(f"not verified: {exc.lines()[0]}", file=sys.stderr)
        return ExitCode.FAILED
    predicate = verified.statement["predicate"]
    subjects = ", ".join(f"{s['name']}@" + ",".join(f"{alg}:{value[:12]}…" for alg, value in sorted(s["digest"].items()))
                         for s in verified.statement["subject"])
    verdict = predicate["outcome"] + (" (forced)" if predicate["forced"] else "")
    print(f"verified: {path}: signed by key {verified.key_id[:16]}…; verdict {verdict}; subjects {subjects}; "
          f"policy {predicate['policy_digest']}; facts {predicate['facts_digest']}")
    if predicate["failing"]:
        print(f"  failing: {', '.join(predicate['failing'])}")
    if require_pass and (predicate["outcome"] != "pass" or predicate["forced"]):
        print(f"not accepted: {path}: the verdict is {verdict} and --require-pass wants a pass", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.PASSED
