"""AdmissionReview (``admission.k8s.io/v1``) in, verdict out: the webhook's judging, without HTTP.

The reviewer loads the ``kubernetes`` pack and every policy the config names once, and keeps
the rules that read only *declared* facts: ``kubernetes`` (the object in the request),
``model_card`` and ``file`` (gathered once at start from the config). Rules about the
effective runtime (``env``, ``secrets``, ``runtime``, ``nvml``, ``prompts``) judge the
process they run in; in the webhook that would be the webhook itself, so they are left to
``preflight`` inside the pod.

A failing result that blocks (SPEC §6) denies the object; ``status.message`` lists each
blocking rule as ``rule-id: message``. Failing results that do not block come back as
``warnings`` (kubectl prints them). Nothing from the object is echoed but names: the facts
never hold a value (see the provider), and neither does the answer or the log record.

An object with more containers or env entries than `wfgy_rules.webhook.bounds` allows is
denied without judging; warnings are capped as kube-apiserver keeps them (same module).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from wfgy_rules.documents.yamlio import Document
from wfgy_rules.model import Bundle, Result
from wfgy_rules.policy.loader import load_policies
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.kubernetes.kubernetes import facts_from_documents
from wfgy_rules.run.config import Config, find_config, load_config
from wfgy_rules.run.engine import evaluate
from wfgy_rules.run.gather import gather
from wfgy_rules.run.outcome import decide
from wfgy_rules.run.rule_selection import apply_config
from wfgy_rules.run.waivers import apply_waivers
from wfgy_rules.webhook.bounds import BadReview, capped_warnings, cut, excess

API_VERSION = "admission.k8s.io/v1"
KUBERNETES_PACK = "builtin:kubernetes"
DECLARED_FACTS = frozenset({"kubernetes", "model_card", "file"})
MAX_MESSAGE = 4096


@dataclass(frozen=True)
class Verdict:
    response: dict[str, Any]  # the AdmissionReview to send back
    record: dict[str, Any]  # what the log line says about it (names and ids only)


class Reviewer:
    def __init__(self, config_path: str | None = None):
        config = load_config(find_config(config_path))
        policy_set = load_policies((KUBERNETES_PACK, *config.policies), config.base_dir)
        rules = apply_config(policy_set.rules, config)
        self.config: Config = config
        self.all_rules = tuple(rules)
        self.rules = [rule for rule in rules if set(rule.facts) <= DECLARED_FACTS]
        # settings: every provider's section, as eval has them (the declared env from env.declared,
        # the model directory of serving/runtime), so the object is judged as eval judges it
        self.ctx = ProviderContext(base_dir=config.base_dir, environ={}, secret_names=config.secret_names, settings=config.providers)
        static = sorted({name for rule in self.rules for name in rule.facts} - {"kubernetes"})
        self.static = gather(static, config.providers, self.ctx, config.provider_timeouts)
        self.kubernetes_config = dict(config.providers.get("kubernetes") or {})

    def review(self, body: Any, today: date | None = None) -> Verdict:
        """Judge the object of one AdmissionReview; `BadReview` when it is not one."""
        request = _request(body)
        uid = request["uid"]
        obj = request.get("object")
        record = _describe(request)
        if not isinstance(obj, dict):  # DELETE and CONNECT carry no object: nothing to judge
            return Verdict(answer(uid, True), {**record, "allowed": True, "denied_by": [], "warnings": 0})
        beyond = excess(obj)
        if beyond is not None:
            message = f"denied by wfgy-rules: {record['resource']} has {beyond}"
            return Verdict(answer(uid, False, message), {**record, "allowed": False, "denied_by": [], "warnings": 0, "reason": beyond})
        results = self.judge(obj, record["resource"], today)
        outcome = decide(results, self.config.fail_on, force=False)
        blocking = [r for r in outcome.results if r.blocking]
        advisory = [r for r in outcome.results if r.status.failing and not r.blocking]
        allowed = not blocking
        message = "; ".join(f"{r.rule_id}: {r.message or r.title}" for r in blocking)
        warnings = [f"{r.rule_id}: {r.message or r.title}" for r in advisory]
        response = answer(uid, allowed, cut(f"denied by wfgy-rules: {message}", MAX_MESSAGE) if blocking else None, capped_warnings(warnings))
        return Verdict(response, {**record, "allowed": allowed, "denied_by": sorted({r.rule_id for r in blocking}), "warnings": len(warnings)})

    def judge(self, obj: Mapping[str, Any], shown: str, today: date | None = None) -> list[Result]:
        """The results of the webhook's rules over one Kubernetes object."""
        facts, errors = dict(self.static.facts), dict(self.static.errors)
        facts["kubernetes"] = facts_from_documents([Document(shown, obj)], self.kubernetes_config, self.ctx, files=[shown])
        results = evaluate(self.rules, Bundle(facts, errors))
        return apply_waivers(results, self.config, list(self.all_rules), today or date.today())


def answer(uid: str, allowed: bool, message: str | None = None, warnings: list[str] | None = None) -> dict[str, Any]:
    """An AdmissionReview response (``status.code`` 403 when denied)."""
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if message:
        response["status"] = {"code": 200 if allowed else 403, "message": message}
    if warnings:
        response["warnings"] = warnings
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}


def uid_of(body: Any) -> str:
    """The request's uid, or "" (what a fall-back answer carries when judging never ended)."""
    request = body.get("request") if isinstance(body, dict) else None
    uid = request.get("uid") if isinstance(request, dict) else None
    return uid if isinstance(uid, str) else ""


def _request(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("kind") != "AdmissionReview":
        raise BadReview("not an AdmissionReview")
    if body.get("apiVersion") != API_VERSION:
        raise BadReview(f"apiVersion {body.get('apiVersion')!r} is not {API_VERSION}")
    request = body.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("uid"), str) or not request["uid"]:
        raise BadReview("request.uid is missing")
    if "object" in request and request["object"] is not None and not isinstance(request["object"], dict):
        raise BadReview("request.object is not an object")
    return request


def _describe(request: Mapping[str, Any]) -> dict[str, Any]:
    """Names only: what the log line and the reported locations say about the request."""
    obj = request.get("object") if isinstance(request.get("object"), dict) else {}
    kind = _text(_mapping(request.get("kind")).get("kind")) or _text(obj.get("kind")) or "object"
    namespace = _text(request.get("namespace")) or _text(_mapping(obj.get("metadata")).get("namespace"))
    name = _text(request.get("name")) or _text(_mapping(obj.get("metadata")).get("name")) or _text(_mapping(obj.get("metadata")).get("generateName"))
    return {
        "uid": request.get("uid"),
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "operation": _text(request.get("operation")),
        "dry_run": bool(request.get("dryRun", False)),
        "resource": f"{kind.lower()}/{namespace + '/' if namespace else ''}{name or ''}",
    }


def _text(value: Any) -> str:
    return value[:253] if isinstance(value, str) else ""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
