"""``verify-attestation FILE --key PUB``: does the envelope verify, is its payload a verdict
statement, and is the verdict one the verifier accepts?

A genuine signature over a verdict statement is enough unless the verifier asks for more
(`Wants`): ``--policy-digest`` and ``--stage`` pin what the verdict must be about;
``--require-pass`` wants a pass that is not forced, that judged at least one rule (a rule
whose every result is ``skip`` judged nothing), and whose run was not narrowed by ``--only``
or ``--skip`` — ``eval --skip '*'`` passes over nothing — unless ``--allow-selection``.
Rules the config disables are shown but do not refuse a verdict: the config is the project's
reviewed choice, as its waivers are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wfgy_rules.attest.dsse import EnvelopeError, open_envelope
from wfgy_rules.attest.statement import check_statement
from wfgy_rules.documents import strict_json


@dataclass(frozen=True)
class Verified:
    key_id: str
    statement: dict[str, Any]


@dataclass(frozen=True)
class Wants:
    """What the verifier asks of a genuine verdict, as the CLI parsed it."""

    require_pass: bool = False
    allow_selection: bool = False
    policy_digest: str | None = None
    stage: str | None = None


def verify_text(text: str, public_key: Any) -> Verified:
    """`EnvelopeError` with a one-line reason unless ``text`` is a verifying envelope of a verdict."""
    try:
        envelope = strict_json.loads(text)
    except json.JSONDecodeError:
        raise EnvelopeError("not JSON, so not a DSSE envelope") from None
    except ValueError as exc:  # duplicate keys, NaN, too deep: not an envelope we would write
        raise EnvelopeError(str(exc)) from None
    if isinstance(envelope, dict) and "_type" in envelope and "payload" not in envelope:
        raise EnvelopeError("an unsigned statement, not a DSSE envelope (write it with --sign-key)")
    payload, key_id = open_envelope(envelope, public_key)
    try:
        statement = strict_json.loads(payload)
    except ValueError as exc:
        raise EnvelopeError(f"the signed payload is not JSON: {exc}") from None
    problems = check_statement(statement)
    if problems:
        raise EnvelopeError("the signed payload is not a wfgy-rules verdict statement: " + "; ".join(problems))
    return Verified(key_id, statement)


def refusals(predicate: dict[str, Any], wants: Wants) -> list[str]:
    """Why a verified verdict is not accepted (empty: accepted)."""
    reasons = []
    if wants.policy_digest is not None and predicate["policy_digest"] != wants.policy_digest:
        reasons.append(f"the policy digest is {predicate['policy_digest']}, --policy-digest wants {wants.policy_digest}")
    if wants.stage is not None and predicate["stage"] != wants.stage:
        reasons.append(f"the verdict is of stage {predicate['stage']}, --stage wants {wants.stage}")
    if not wants.require_pass:
        return reasons
    if predicate["outcome"] != "pass" or predicate["forced"]:
        reasons.append(f"the verdict is {verdict(predicate)} and --require-pass wants a pass")
    if all(status == "skip" for status in predicate["judged"].values()):
        reasons.append("the verdict judged no rule (every rule left out, disabled or skipped)")
    narrowed = narrowing(predicate["selection"])
    if narrowed and not wants.allow_selection:
        reasons.append(f"the run was narrowed by {narrowed}; --require-pass wants the whole run (--allow-selection accepts it)")
    return reasons


def verdict(predicate: dict[str, Any]) -> str:
    return predicate["outcome"] + (" (forced)" if predicate["forced"] else "")


def narrowing(selection: dict[str, Any]) -> str:
    """The ``--only``/``--skip`` options the run was given, as a command line shows them ('' for none)."""
    return " ".join(f"--{option} {glob}" for option in ("only", "skip") for glob in selection[option])
