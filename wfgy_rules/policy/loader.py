"""Policy sources (files, directories, ``builtin``) → one checked `PolicySet`.

A directory contributes, in sorted path order, every ``*.yaml`` / ``*.yml`` file under it
that is a wfgy-rules document (``apiVersion: wfgy-rules/…``) other than a config, policy
test or prompt-vars file; those, and unrelated YAML living beside the policies, are left
alone. A wfgy-rules file with a misspelt ``kind`` is validated as a policy, so the typo is
reported rather than silently skipped. A file named explicitly is always a policy. ``builtin`` is the packs shipped under ``rules/``. Rule ids and policy names must be
unique across everything loaded. `validate` and `eval` share this loader.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from wfgy_rules.documents.yamlio import load_text, read_text, text_digest
from wfgy_rules.errors import PolicyError, Problem, WfgyError
from wfgy_rules.gc_pause import paused
from wfgy_rules.model import Policy, Rule
from wfgy_rules.policy import cache as policy_cache
from wfgy_rules.policy.compiler import compile_policy
from wfgy_rules.providers import registry
from wfgy_rules.resources import resource_path
from wfgy_rules.shown_paths import shown_path

BUILTIN = "builtin"
_OTHER_KINDS = ("PolicyTest", "Config", "PromptVars")


@dataclass(frozen=True)
class PolicySet:
    policies: tuple[Policy, ...]

    @property
    def rules(self) -> list[Rule]:
        return [rule for policy in self.policies for rule in policy.rules]

    @property
    def digest(self) -> str:
        """sha256 over the loaded policy files (their shown paths and contents)."""
        h = hashlib.sha256()
        for policy in self.policies:
            h.update(f"{policy.path}\0{policy.sha256}\n".encode())
        return "sha256:" + h.hexdigest()


def policy_files(sources: list[str] | tuple[str, ...], base_dir: Path) -> list[tuple[Path, str]]:
    """(real path, shown path) of every policy file the sources name, in load order."""
    found: list[tuple[Path, str]] = []
    for source in sources:
        if source == BUILTIN:
            root = resource_path("rules")
            found.extend((p, f"builtin:{p.relative_to(root).as_posix()}") for p in _yaml_files(root))
            continue
        path = Path(source) if Path(source).is_absolute() else base_dir / source
        shown = shown_path(path)
        if path.is_dir():
            found.extend((p, shown_path(p)) for p in _yaml_files(path))
        elif path.exists():  # a file; anything else is refused by the reader, naming what it is
            found.append((path, shown))
        else:
            raise WfgyError(f"{shown}: no such policy file or directory", [Problem(shown, "no such policy file or directory")])
    return found


def load_policies(sources, base_dir: Path) -> PolicySet:
    """Load, compile and cross-check every policy; `PolicyError` with all problems at once.

    The garbage collector is paused meanwhile (`wfgy_rules.gc_pause`): a 10,000-rule set
    loads several times faster."""
    with paused():
        return _load_policies(sources, base_dir)


def _load_policies(sources, base_dir: Path) -> PolicySet:
    providers = registry.names()
    policies: list[Policy] = []
    problems: list[Problem] = []
    seen_files: set[Path] = set()
    explicit = _explicit(sources, base_dir)
    for order, (path, shown) in enumerate(policy_files(sources, base_dir)):
        if path.resolve() in seen_files:
            continue
        seen_files.add(path.resolve())
        try:
            policy = _load_one(path, shown, order, providers, path in explicit)
        except PolicyError as exc:
            problems.extend(exc.problems)
            continue
        if policy is not None:
            policies.append(policy)
    problems.extend(_duplicates(policies))
    if problems:
        raise PolicyError("invalid policies", problems)
    return PolicySet(tuple(policies))


def _load_one(path: Path, shown: str, order: int, providers: frozenset[str], explicit: bool) -> Policy | None:
    """One policy file (None when a directory holds a file that is not a policy)."""
    text = read_text(path, shown)
    digest = text_digest(text)
    cached = policy_cache.load(digest, shown)
    document, asts = cached if cached is not None else (load_text(text, shown, digest), {})
    if not explicit and not _is_policy_candidate(document.data):
        return None
    policy = compile_policy(document, order, providers, shown, asts, validated=cached is not None)
    if cached is None:
        policy_cache.store(document, asts)
    return policy


def _explicit(sources, base_dir: Path) -> set[Path]:
    return {base_dir / s for s in sources if s != BUILTIN}


def _is_policy_candidate(data) -> bool:
    return isinstance(data, dict) and str(data.get("apiVersion", "")).startswith("wfgy-rules/") and data.get("kind") not in _OTHER_KINDS


def _duplicates(policies: list[Policy]) -> list[Problem]:
    problems = []
    names: dict[str, Policy] = {}
    ids: dict[str, Rule] = {}
    for policy in policies:
        if policy.name in names:
            problems.append(Problem(policy.path, f"duplicate policy name {policy.name!r} (also in {names[policy.name].path})", None, None, "metadata.name"))
        names.setdefault(policy.name, policy)
        for rule in policy.rules:
            if rule.id in ids:
                problems.append(Problem(policy.path, f"duplicate rule id {rule.id!r} (also at {ids[rule.id].location})", rule.location.line, rule.location.column, f"rules[{rule.order[1]}].id"))
            ids.setdefault(rule.id, rule)
    return problems


def _yaml_files(root: Path) -> list[Path]:
    return sorted((p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()), key=lambda p: p.as_posix())
