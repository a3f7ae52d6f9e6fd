"""The in-toto Statement v1 of a verdict (https://github.com/in-toto/attestation, spec v1)::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "model-card.json", "digest": {"sha256": "…"}}, …],
     "predicateType": "https://wfgy-rules.dev/attestation/verdict/v1",
     "predicate": {"tool": {"name": "wfgy-rules", "version": "0.1.0"}, "mode": "preflight",
                   "outcome": "fail", "forced": false, "fail_on": "low",
                   "policy_digest": "sha256:…", "facts_digest": "sha256:…",
                   "summary": {"pass": 12, "fail": 3, …},
                   "failing": ["prompt.placeholders-resolved", "semvers.tokenizer-sha"],
                   "blocking": […], "waived": […], "overridden": […]}}

**Subjects** (what was judged): the ``--subject NAME@sha256:HEX`` values when given (an image
digest); otherwise the model card file (sha256 of its bytes, when the facts were gathered
here) and the model directory's tokenizer fingerprint (``runtime.model_dir.tokenizer.sha256``:
sha256 of tokenizer.json's canonical JSON with padding and truncation nulled, marked so in
the subject's ``annotations``); with neither, the fact bundle itself (its ``facts_digest``).
The predicate holds no timestamp: the same verdict gives the same statement.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://wfgy-rules.dev/attestation/verdict/v1"
_SUBJECT = re.compile(r"^(?P<name>.+)@sha256:(?P<hex>[0-9a-f]{64})$")
_HEX = re.compile(r"^[0-9a-f]+$")
FINGERPRINT_NOTE = "sha256 of tokenizer.json as canonical JSON with padding and truncation nulled (runtime.model_dir.tokenizer.sha256)"


def parse_subject(text: str) -> dict[str, Any] | None:
    """``NAME@sha256:HEX`` → an in-toto subject; None when malformed."""
    match = _SUBJECT.match(text.strip())
    if not match:
        return None
    return {"name": match["name"], "digest": {"sha256": match["hex"]}}


def default_subjects(facts: dict[str, Any] | None, model_card_file: Path | None, facts_name: str, facts_digest: str) -> list[dict[str, Any]]:
    subjects = []
    if model_card_file is not None and model_card_file.is_file():
        subjects.append({"name": model_card_file.name, "digest": {"sha256": hashlib.sha256(model_card_file.read_bytes()).hexdigest()}})
    runtime = (facts or {}).get("runtime") or {}
    model_dir = runtime.get("model_dir") if isinstance(runtime, dict) else None
    tokenizer = model_dir.get("tokenizer") if isinstance(model_dir, dict) else None
    fingerprint = tokenizer.get("sha256") if isinstance(tokenizer, dict) else None
    if isinstance(fingerprint, str) and len(fingerprint) == 64 and _HEX.match(fingerprint):
        where = str(model_dir.get("path") or "model").rstrip("/").removeprefix("./")
        subjects.append({"name": f"{where}/tokenizer.json", "digest": {"sha256": fingerprint},
                         "annotations": {"wfgy-rules/digest": FINGERPRINT_NOTE}})
    if not subjects:
        subjects.append({"name": facts_name, "digest": {"sha256": facts_digest.removeprefix("sha256:")}})
    return subjects


def build_statement(report: Any, subjects: list[dict[str, Any]]) -> dict[str, Any]:
    """The statement for a `wfgy_rules.reporters.Report`."""
    outcome = report.outcome
    results = outcome.results
    predicate = {
        "tool": {"name": "wfgy-rules", "version": report.tool_version},
        "mode": report.mode,
        "outcome": outcome.verdict,
        "forced": outcome.forced,
        "fail_on": outcome.fail_on.name,
        "policy_digest": report.policy_digest,
        "facts_digest": report.facts_digest,
        "summary": outcome.summary,
        "failing": _ids(r for r in results if r.status.failing),
        "blocking": _ids(r for r in results if r.blocking),
        "waived": _ids(r for r in results if r.status.value == "waived"),
        "overridden": _ids(outcome.overridden) if outcome.forced else [],
    }
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE, "predicate": predicate}


def _ids(results) -> list[str]:
    return sorted({r.rule_id for r in results})


_PREDICATE_FIELDS = {"outcome": str, "forced": bool, "policy_digest": str, "facts_digest": str, "failing": list, "waived": list}


def check_statement(data: Any) -> list[str]:
    """What is wrong with a statement's shape (empty when it is a verdict statement)."""
    if not isinstance(data, dict):
        return ["the payload is not a JSON object"]
    problems = []
    if data.get("_type") != STATEMENT_TYPE:
        problems.append(f"_type is not {STATEMENT_TYPE}")
    subjects = data.get("subject")
    if not isinstance(subjects, list) or not subjects:
        problems.append("subject must be a non-empty list")
    else:
        for i, subject in enumerate(subjects):
            digest = subject.get("digest") if isinstance(subject, dict) else None
            if not isinstance(subject, dict) or not isinstance(subject.get("name"), str) or not isinstance(digest, dict) or not digest \
                    or not all(isinstance(v, str) and _HEX.match(v) for v in digest.values()):
                problems.append(f"subject[{i}] needs a name and a digest of hex values")
    if data.get("predicateType") != PREDICATE_TYPE:
        problems.append(f"predicateType is not {PREDICATE_TYPE}")
    predicate = data.get("predicate")
    if not isinstance(predicate, dict):
        problems.append("predicate must be an object")
    else:
        for name, kind in _PREDICATE_FIELDS.items():
            if not isinstance(predicate.get(name), kind):
                problems.append(f"predicate.{name} must be a {kind.__name__}")
        if predicate.get("outcome") not in ("pass", "fail"):
            problems.append("predicate.outcome must be pass or fail")
    return problems
