"""Turn loaded rules into the rules of this run: config overrides, then ``--only``/``--skip``
and ``--stage``.

Order of precedence for a rule's ``params``: the policy's defaults, then the config's
global ``ignore_versions``, then ``rules.<id>.params`` in the config. ``cuda_probe.mode``
sets the action of every rule of the ``cuda-probe`` policy unless the rule's own override
names one. Overrides for a rule id that is not loaded are an error (a typo must not pass),
with the closest loaded id as a hint (``semvers.torch-versions`` → ``semvers.torch-version``).

A selection that matches no loaded rule is an error too (``--only 'promt.*'`` must not print
``0 passed, 0 failed`` and exit 0), with the closest rule id or policy prefix as a hint; so is
an ``--only`` whose rules all belong to a stage ``--stage`` leaves out. ``--stage ci`` runs
the ``ci`` and ``any`` rules, ``--stage deploy`` the ``deploy`` and ``any`` rules, ``all``
every rule.
"""

from __future__ import annotations

import fnmatch
from dataclasses import replace

from wfgy_rules.errors import PolicyError, Problem, UsageError, did_you_mean
from wfgy_rules.model import STAGE_SELECTIONS, Rule, Severity
from wfgy_rules.run.config import Config

CUDA_PROBE_POLICY = "cuda-probe"
# cuda_probe.mode values that replace every Cuda-Probe action; `fallback` keeps each rule's own
# (fallback for launches that can serve on CPU, abort for a GPU-only engine).
CUDA_OVERRIDES = frozenset({"warn", "abort"})


def apply_config(rules: list[Rule], config: Config) -> list[Rule]:
    """Rules with the config's overrides applied; `PolicyError` for overrides of unknown ids."""
    known = {rule.id for rule in rules}
    problems = [
        _problem(config, rule_id, f"override for unknown rule {rule_id!r}{did_you_mean(rule_id, known)}")
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
    action = settings.get("action") or (config.cuda_mode if rule.policy == CUDA_PROBE_POLICY and config.cuda_mode in CUDA_OVERRIDES else None)
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


def select(rules: list[Rule], only: list[str] | None, skip: list[str] | None, stage: str = "all") -> list[Rule]:
    """Rules of the ``stage`` selection whose id matches any ``--only`` glob (all when none) and
    no ``--skip`` glob; `UsageError` for a glob that matches no loaded rule, or an ``--only``
    left empty by the stage."""
    if stage not in STAGE_SELECTIONS:
        raise UsageError(f"--stage {stage!r} is not one of: {', '.join(STAGE_SELECTIONS)}")
    ids = [r.id for r in rules]
    _check_globs("--only", only or [], ids)
    _check_globs("--skip", skip or [], ids)
    stages = STAGE_SELECTIONS[stage]
    chosen = [r for r in rules if not only or any(fnmatch.fnmatchcase(r.id, g) for g in only)]
    staged = [r for r in chosen if r.stage in stages]
    if only and chosen and not staged:
        found = sorted({r.stage for r in chosen})
        raise UsageError(f"--only {' '.join(only)}: its {len(chosen)} rule(s) are of stage {', '.join(found)}; --stage {stage} runs {' and '.join(sorted(stages))} rules")
    return [r for r in staged if not skip or not any(fnmatch.fnmatchcase(r.id, g) for g in skip)]


def _check_globs(option: str, globs: list[str], ids: list[str]) -> None:
    """Each glob must match a loaded rule; the hint offers the closest id or ``policy-prefix.*``."""
    candidates = set(ids) | {rule_id.split(".", 1)[0] + ".*" for rule_id in ids if "." in rule_id}
    for glob in globs:
        if not any(fnmatch.fnmatchcase(rule_id, glob) for rule_id in ids):
            raise UsageError(f"{option} {glob!r} matches no loaded rule{did_you_mean(glob, candidates)}; see 'wfgy-rules list'")


def _problem(config: Config, rule_id: str, message: str) -> Problem:
    if config.document is None:
        return Problem(config.path or "wfgy.yaml", message)
    return config.document.problem(("rules", rule_id), message, key=True)
