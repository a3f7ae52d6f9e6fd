"""Turn loaded rules into the rules of this run: config overrides, then ``--only``/``--skip``.

Order of precedence for a rule's ``params``: the policy's defaults, then the config's
global ``ignore_versions``, then ``rules.<id>.params`` in the config. ``cuda_probe.mode``
sets the action of every rule of the ``cuda-probe`` policy unless the rule's own override
names one. Overrides for a rule id that is not loaded are an error (a typo must not pass).
"""

from __future__ import annotations

import fnmatch
from dataclasses import replace

from wfgy_rules.errors import PolicyError, Problem
from wfgy_rules.model import Rule, Severity
from wfgy_rules.run.config import Config

CUDA_PROBE_POLICY = "cuda-probe"


def apply_config(rules: list[Rule], config: Config) -> list[Rule]:
    """Rules with the config's overrides applied; `PolicyError` for overrides of unknown ids."""
    known = {rule.id for rule in rules}
    problems = [
        _problem(config, rule_id, f"override for unknown rule {rule_id!r}")
        for rule_id in config.rules
        if rule_id not in known
    ]
    if problems:
        raise PolicyError("unknown rules in overrides", problems)
    return [_override(rule, config) for rule in rules]


def _override(rule: Rule, config: Config) -> Rule:
    settings = config.rules.get(rule.id, {})
    params = dict(rule.params)
    if config.ignore_versions is not None:
        params["ignore_versions"] = list(config.ignore_versions)
    params.update(settings.get("params", {}))
    params.setdefault("ignore_versions", [])
    remedy = rule.remedy
    action = settings.get("action") or (config.cuda_mode if rule.policy == CUDA_PROBE_POLICY and config.cuda_mode else None)
    if action:
        remedy = replace(remedy, action=action)
    if "timeout" in settings:
        remedy = replace(remedy, timeout=settings["timeout"])
    return replace(
        rule,
        params=params,
        remedy=remedy,
        severity=Severity[settings["severity"]] if "severity" in settings else rule.severity,
        enabled=settings.get("enabled", rule.enabled),
    )


def select(rules: list[Rule], only: list[str] | None, skip: list[str] | None) -> list[Rule]:
    """Rules whose id matches any ``--only`` glob (all when none) and no ``--skip`` glob."""
    chosen = [r for r in rules if not only or any(fnmatch.fnmatchcase(r.id, g) for g in only)]
    return [r for r in chosen if not skip or not any(fnmatch.fnmatchcase(r.id, g) for g in skip)]


def _problem(config: Config, rule_id: str, message: str) -> Problem:
    if config.document is None:
        return Problem(config.path or "wfgy.yaml", message)
    return config.document.problem(("rules", rule_id), message, key=True)
