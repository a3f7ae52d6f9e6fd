"""What every judging command starts from: the config, the loaded policies, the rules of
this run (overrides applied, ``--only``/``--skip`` honoured) and the providers they need."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from wfgy_rules.errors import UsageError
from wfgy_rules.model import Rule, Severity
from wfgy_rules.policy.loader import PolicySet, load_policies
from wfgy_rules.run.config import Config, find_config, load_config
from wfgy_rules.run.rule_selection import apply_config, select


@dataclass(frozen=True)
class Session:
    config: Config
    policy_set: PolicySet
    rules: tuple[Rule, ...]  # the rules of this run
    all_rules: tuple[Rule, ...]  # every loaded rule, overrides applied

    @property
    def providers(self) -> list[str]:
        """The providers the selected rules read: only these are gathered."""
        return sorted({name for rule in self.rules for name in rule.facts})


def open_session(config_path: str | None = None, policies: list[str] | None = None, fail_on: str | None = None,
                 only: list[str] | None = None, skip: list[str] | None = None) -> Session:
    """Load everything a run needs; `WfgyError` (exit 2) on any invalid input."""
    config = load_config(find_config(config_path))
    policy_base = Path.cwd() if policies else config.base_dir
    if policies:
        config = replace(config, policies=tuple(policies))
    if fail_on:
        if fail_on not in Severity.__members__:
            raise UsageError(f"--fail-on {fail_on!r} is not one of: {', '.join(Severity.__members__)}")
        config = replace(config, fail_on=Severity[fail_on])
    policy_set = load_policies(config.policies, policy_base)
    all_rules = apply_config(policy_set.rules, config)
    return Session(config, policy_set, tuple(select(all_rules, only, skip)), tuple(all_rules))
