"""``wfgy-rules verify-attestation FILE --key PUB [--require-pass [--allow-selection]]
[--policy-digest sha256:HEX] [--stage ci|deploy|all]``.

Exit 0 when the DSSE envelope's signature verifies with the key and its payload is a verdict
statement, whatever the verdict, and the verdict is one the options accept
(`wfgy_rules.attest.verify.refusals`): a pinned policy digest or stage that differs, or with
``--require-pass`` a failing or forced verdict, one that judged no rule, or one narrowed by
``--only``/``--skip`` (unless ``--allow-selection``), is exit 1 with one ``not accepted`` line.
A tampered envelope, another key's signature, a malformed statement (duplicate keys, absurd
nesting included) is exit 1 with one ``not verified`` line; a missing file, an unreadable key
or a malformed option is exit 2. What the payload says (subject names, rule ids, globs) is
shown as the text report shows facts: control characters escaped, so no line is forged.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from wfgy_rules.attest.dsse import EnvelopeError
from wfgy_rules.attest.keys import load_public_key
from wfgy_rules.attest.statement import VERDICTS
from wfgy_rules.attest.verify import Verified, Wants, narrowing, refusals, verdict, verify_text
from wfgy_rules.documents.yamlio import read_text
from wfgy_rules.errors import Problem, UsageError, WfgyError
from wfgy_rules.exit_codes import ExitCode
from wfgy_rules.model import STAGE_SELECTIONS
from wfgy_rules.reporters.escaping import text as escape

_POLICY_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def run(path: str, key: str, wants: Wants) -> int:
    _check(wants)
    public = load_public_key(key)
    if not Path(path).is_file():
        raise UsageError(f"{path}: no such file", [Problem(path, "no such attestation file")])
    try:
        verified = verify_text(read_text(Path(path), path), public)
    except EnvelopeError as exc:
        _say(f"not verified: {path}: {exc}", sys.stderr)
        return ExitCode.FAILED
    except WfgyError as exc:  # not UTF-8, too large: not an envelope we wrote
        _say(f"not verified: {exc.lines()[0]}", sys.stderr)
        return ExitCode.FAILED
    predicate = verified.statement["predicate"]
    _say(_summary(path, verified), sys.stdout)
    if predicate["failing"]:
        _say(f"  failing: {', '.join(predicate['failing'])}", sys.stdout)
    reasons = refusals(predicate, wants)
    if reasons:
        _say(f"not accepted: {path}: {'; '.join(reasons)}", sys.stderr)
        return ExitCode.FAILED
    return ExitCode.PASSED


def _check(wants: Wants) -> None:
    if wants.stage is not None and wants.stage not in STAGE_SELECTIONS:
        raise UsageError(f"--stage {wants.stage!r} is not one of: {', '.join(STAGE_SELECTIONS)}")
    if wants.policy_digest is not None and not _POLICY_DIGEST.match(wants.policy_digest):
        raise UsageError(f"--policy-digest {wants.policy_digest!r}: expected sha256: and 64 lowercase hex digits, "
                         "as a report's policy_digest")
    if wants.allow_selection and not wants.require_pass:
        raise UsageError("--allow-selection goes with --require-pass")


def _summary(path: str, verified: Verified) -> str:
    predicate = verified.statement["predicate"]
    subjects = ", ".join(f"{s['name']}@" + ",".join(f"{alg}:{value[:12]}…" for alg, value in sorted(s["digest"].items()))
                         for s in verified.statement["subject"])
    return (f"verified: {path}: signed by key {verified.key_id[:16]}…; verdict {verdict(predicate)}; stage {predicate['stage']}; "
            f"{_judged(predicate['judged'])}; selection: {_selection(predicate['selection'])}; subjects {subjects}; "
            f"policy {predicate['policy_digest']}; facts {predicate['facts_digest']}")


def _judged(judged: dict[str, str]) -> str:
    if not judged:
        return "judged no rule"
    counts = Counter(judged.values())
    shown = ", ".join(f"{counts[status]} {status}" for status in VERDICTS if counts[status])
    return f"judged {len(judged)} rule{'s' if len(judged) > 1 else ''} ({shown})"


def _selection(selection: dict[str, Any]) -> str:
    parts = [narrowing(selection)] if narrowing(selection) else []
    if selection["disabled"]:
        parts.append("disabled " + " ".join(selection["disabled"]))
    return ", ".join(parts) or "every rule"


def _say(line: str, stream: Any) -> None:
    """One line of ours around what the payload says: its control characters shown, never acted on."""
    print(escape(line), file=stream)
