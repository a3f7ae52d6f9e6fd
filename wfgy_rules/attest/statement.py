"""The in-toto Statement v1 of a verdict (https://github.com/in-toto/attestation, spec v1)::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "model-card.json", "digest": {"sha256": "…"}}, …],
     "predicateType": "https://wfgy-rules.dev/attestation/verdict/v1",
     "predicate": {"tool": {"name": "wfgy-rules", "version": "0.1.0"}, "mode": "preflight",
                   "outcome": "fail", "forced": false, "fail_on": "low",
                   "policy_digest": "sha256:…", "facts_digest": "sha256:…", "config_digest": "sha256:…",
                   "stage": "deploy",
                   "selection": {"only": [], "skip": ["gpu.*"], "disabled": ["team.legacy"]},
                   "judged": {"prompt.placeholders-resolved": "fail", "team.replicas": "pass", …},
                   "summary": {"pass": 12, "fail": 3, …},
                   "failing": ["prompt.placeholders-resolved", "semvers.tokenizer-sha"],
                   "blocking": […], "waived": […], "overridden": […]}}

**What a verdict binds**: the policy (``policy_digest``), the settings it was judged with
(``config_digest``: the config's severities, waivers, overrides and provider settings, as
`wfgy_rules.run.fleet.config_digest` computes it for shards; only the digest), the ``stage`` the rules were chosen
by (``ci``, ``deploy`` or ``all``), the ``selection`` that narrowed them (the ``--only`` and
``--skip`` globs as given, sorted; the ids of the chosen rules the config disables), and
``judged``: every rule that ran, with its verdict over all its results (the worst of
``error``, ``fail``, ``waived``, ``pass``, ``skip``, in that order). A rule left out by the
stage or the selection, or disabled, is not in ``judged``; ``eval --skip '*'`` records
``judged: {}``, which no verifier should take for a pass (`wfgy_rules.attest.verify`).

**Subjects** (what was judged): the ``--subject NAME@sha256:HEX`` values when given (an image
digest). Otherwise, when the facts were gathered here, the model card file (sha256 of its
bytes) and the model directory's tokenizer fingerprint (``runtime.model_dir.tokenizer.sha256``
as the provider computed it: sha256 of tokenizer.json's canonical JSON with padding and
truncation nulled, marked so in the subject's ``annotations``), or with neither the gathered
bundle (its ``facts_digest``, named ``facts.json``). When the facts were read (``--facts``),
the subject is what was read: the bundle file with the sha256 of its bytes, or the directory
with the fleet's facts digest (annotated), never a digest a bundle claims inside it.
The predicate holds no timestamp: the same verdict gives the same statement.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from wfgy_rules.model import STAGE_SELECTIONS, Status
from wfgy_rules.run.fleet import config_digest

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://wfgy-rules.dev/attestation/verdict/v1"
_SUBJECT = re.compile(r"^(?P<name>.+)@sha256:(?P<hex>[0-9a-f]{64})$")
_HEX = re.compile(r"^[0-9a-f]+$")
# A rule's verdict over its results: the first of these that any of its results has.
VERDICTS = tuple(status.value for status in (Status.error, Status.fail, Status.waived, Status.pass_, Status.skip))
_RANK = {verdict: rank for rank, verdict in enumerate(VERDICTS)}
FINGERPRINT_NOTE = "sha256 of tokenizer.json as canonical JSON with padding and truncation nulled (runtime.model_dir.tokenizer.sha256)"
FLEET_NOTE = "the fleet's facts digest: sha256 of the lines 'FILE sha256:HEX', one per bundle file in name order"


def parse_subject(text: str) -> dict[str, Any] | None:
    """``NAME@sha256:HEX`` → an in-toto subject; None when malformed."""
    match = _SUBJECT.match(text.strip())
    if not match:
        return None
    return {"name": match["name"], "digest": {"sha256": match["hex"]}}


def default_subjects(gathered: dict[str, Any] | None, model_card_file: Path | None, read: Path | None,
                     facts_digest: str) -> list[dict[str, Any]]:
    """The subjects when no ``--subject`` is given. ``read``: the ``--facts`` file or directory
    judged; None when the facts were gathered here (``gathered``: their facts)."""
    digest = facts_digest.removeprefix("sha256:")
    if read is not None:
        subject: dict[str, Any] = {"name": read.name or read.resolve().name, "digest": {"sha256": digest}}
        if read.is_dir():
            subject["annotations"] = {"wfgy-rules/digest": FLEET_NOTE}
        return [subject]
    subjects = []
    if model_card_file is not None and model_card_file.is_file():
        subjects.append({"name": model_card_file.name, "digest": {"sha256": hashlib.sha256(model_card_file.read_bytes()).hexdigest()}})
    runtime = (gathered or {}).get("runtime") or {}
    model_dir = runtime.get("model_dir") if isinstance(runtime, dict) else None
    tokenizer = model_dir.get("tokenizer") if isinstance(model_dir, dict) else None
    fingerprint = tokenizer.get("sha256") if isinstance(tokenizer, dict) else None
    if isinstance(fingerprint, str) and len(fingerprint) == 64 and _HEX.match(fingerprint):
        where = str(model_dir.get("path") or "model").rstrip("/").removeprefix("./")
        subjects.append({"name": f"{where}/tokenizer.json", "digest": {"sha256": fingerprint},
                         "annotations": {"wfgy-rules/digest": FINGERPRINT_NOTE}})
    return subjects or [{"name": "facts.json", "digest": {"sha256": digest}}]


def build_statement(report: Any, subjects: list[dict[str, Any]], only: list[str] = (), skip: list[str] = ()) -> dict[str, Any]:
    """The statement for a `wfgy_rules.reporters.Report`; ``only`` and ``skip``: the run's
    ``--only`` and ``--skip`` globs."""
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
        "config_digest": config_digest(report.config) if report.config is not None else None,
        "stage": report.stage,
        "selection": {"only": sorted(set(only)), "skip": sorted(set(skip)),
                      "disabled": sorted(rule.id for rule in report.rules if not rule.enabled)},
        "judged": _judged(report),
        "summary": outcome.summary,
        "failing": _ids(r for r in results if r.status.failing),
        "blocking": _ids(r for r in results if r.blocking),
        "waived": _ids(r for r in results if r.status.value == "waived"),
        "overridden": _ids(outcome.overridden) if outcome.forced else [],
    }
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE, "predicate": predicate}


def _judged(report: Any) -> dict[str, str]:
    """Each rule of the run that was not disabled → the worst status among its results."""
    ran = {rule.id for rule in report.rules if rule.enabled}
    worst: dict[str, str] = {}
    for result in report.outcome.results:
        if result.rule_id in ran:
            seen = worst.get(result.rule_id)
            if seen is None or _RANK[result.status.value] < _RANK[seen]:
                worst[result.rule_id] = result.status.value
    return dict(sorted(worst.items()))


def _ids(results) -> list[str]:
    return sorted({r.rule_id for r in results})


_PREDICATE_FIELDS = {"outcome": str, "forced": bool, "policy_digest": str, "facts_digest": str, "selection": dict,
                     "judged": dict, "failing": list, "waived": list}
_SELECTION_FIELDS = ("only", "skip", "disabled")


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
        problems.extend(_predicate_problems(predicate))
    return problems


def _predicate_problems(predicate: dict[str, Any]) -> list[str]:
    problems = []
    if predicate.get("outcome") not in ("pass", "fail"):
        problems.append("predicate.outcome must be pass or fail")
    if predicate.get("stage") not in STAGE_SELECTIONS:
        problems.append(f"predicate.stage must be one of {', '.join(STAGE_SELECTIONS)}")
    for name, kind in _PREDICATE_FIELDS.items():
        if not isinstance(predicate.get(name), kind):
            problems.append(f"predicate.{name} must be {'an object' if kind is dict else 'a ' + kind.__name__}")
    selection = predicate.get("selection")
    if isinstance(selection, dict) and not all(_strings(selection.get(name)) for name in _SELECTION_FIELDS):
        problems.append(f"predicate.selection must hold {', '.join(_SELECTION_FIELDS)}: lists of strings")
    judged = predicate.get("judged")
    if isinstance(judged, dict) and not all(isinstance(v, str) and v in _RANK for v in judged.values()):
        problems.append(f"predicate.judged must map rule ids to one of {', '.join(_RANK)}")
    return problems


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
