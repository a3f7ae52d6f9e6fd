"""The frozen data the pipeline passes along: severities, rules, fact bundles, results.

Everything here is immutable and totally ordered where order matters, so every report is
deterministic.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """``info < low < medium < high < critical``; the one severity vocabulary of the tool."""

    info = 0
    low = 1
    medium = 2
    high = 3
    critical = 4


class Status(str, enum.Enum):
    """What one rule unit concluded."""

    pass_ = "pass"
    fail = "fail"
    skip = "skip"
    error = "error"
    waived = "waived"

    @property
    def failing(self) -> bool:
        """``fail`` or ``error``: what may block a run, be waived, or be remedied."""
        return self is Status.fail or self is Status.error


# The remedy actions (SPEC §6), the one list the policy, config and report schemas are
# generated from (scripts/sync_schemas.py): abort and block fail the run; block first waits
# in preflight; fallback downgrades the environment of the started command; warn reports.
ACTIONS = ("abort", "warn", "block", "fallback")
BLOCKING_ACTIONS = frozenset({"abort", "block"})

# Where a rule can be judged (SPEC §11 "Stages"), the one list the policy and report schemas
# are generated from: ``ci`` needs only the repository (prompts, model card, tokenizer files),
# ``deploy`` needs the target (its secrets, env, GPU), ``any`` is judged in both. A policy
# sets a default for its rules (``stage:`` at the top), a rule may override it.
STAGES = ("any", "ci", "deploy")
DEFAULT_STAGE = "any"
# What ``--stage`` selects: the stages of the rules it runs (``all``: every rule, the default of eval).
STAGE_SELECTIONS = {"ci": frozenset({"ci", "any"}), "deploy": frozenset({"deploy", "any"}), "all": frozenset(STAGES)}


@dataclass(frozen=True, order=True, slots=True)
class SourceLocation:
    """A place in a file: 1-based line and column (either may be unknown)."""

    path: str
    line: int | None = None
    column: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column}

    def __str__(self) -> str:
        return ":".join(str(p) for p in (self.path, self.line, self.column) if p is not None)


@dataclass(frozen=True)
class Remedy:
    """What happens when the rule fails (SPEC §6)."""

    action: str = "abort"
    hint: str = ""
    env: tuple[tuple[str, str], ...] = ()  # fallback: variables set for the started command
    timeout: float | None = None  # block: seconds; None means the config's secret_timeout
    interval: float = 2.0  # block: seconds between re-checks (backs off)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One comparison the rule made: the key read, the operator, and both values; for a
    failing or erroring result also ``values``, the sub-expressions that made it fail, each
    with its value (`wfgy_rules.policy.subexpressions.Step`)."""

    key: str
    op: str
    left: Any = None
    right: Any = None
    values: tuple = ()  # of Step: (depth, text, value, error)

    def to_json(self) -> dict[str, Any]:
        data = {"key": self.key, "op": self.op, "left": self.left, "right": self.right}
        if self.values:
            data["values"] = [step.to_json() for step in self.values]
        return data


@dataclass(frozen=True, slots=True)
class Result:
    """The verdict of one rule on one fact bundle (or one `for_each` element of it)."""

    rule_id: str
    policy: str
    title: str
    severity: Severity
    status: Status
    action: str
    message: str = ""
    hint: str = ""
    location: SourceLocation | None = None
    evidence: tuple[Evidence, ...] = ()
    index: int | None = None  # the for_each element, when the result is about one
    order: tuple[int, int] = (0, 0)  # (policy file order, rule order): the report order
    waiver: dict[str, Any] | None = None
    blocking: bool = False
    target: str | None = None  # the bundle's file name with `eval --facts DIR`
    subject: dict[str, Any] | None = field(default=None, compare=False)  # scalar fields of the for_each element (waiver `match`)
    stage: str = DEFAULT_STAGE  # the rule's stage: ci, deploy or any
    reason: str | None = field(default=None, compare=False)  # a skip's reason in words, for the text report (`policy.preconditions`)

    def sort_key(self) -> tuple:
        return (self.target or "", self.order, -1 if self.index is None else self.index, self.rule_id)


@dataclass(frozen=True)
class Compare:
    """A leaf of a condition tree: ``key`` ``op`` (``value`` | ``value_from``)."""

    key: Any  # Expr
    op: str
    value: Any = None
    value_from: Any = None  # Expr | None


@dataclass(frozen=True)
class AllOf:
    children: tuple


@dataclass(frozen=True)
class AnyOf:
    children: tuple


@dataclass(frozen=True)
class Not:
    child: Any


@dataclass(frozen=True)
class Rule:
    """A compiled rule: every expression parsed once, every name checked."""

    id: str
    title: str
    severity: Severity
    facts: tuple[str, ...]
    check: Any  # Expr (string assert) or a condition tree (Compare / AllOf / AnyOf / Not)
    policy: str
    policy_path: str
    location: SourceLocation
    order: tuple[int, int]
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    when: Any = None  # Expr | None
    for_each: Any = None  # Expr | None
    message: Any = None  # Template | None
    remedy: Remedy = field(default_factory=Remedy)
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    owner: str = ""
    enabled: bool = True
    stage: str = DEFAULT_STAGE  # ci, deploy or any (the policy's default unless the rule names one)


@dataclass(frozen=True)
class Policy:
    """One loaded policy file."""

    name: str
    path: str  # as shown to users (``builtin:semvers-diff.yaml`` for shipped packs)
    file: str  # the real file path
    sha256: str
    owner: str
    description: str
    rules: tuple[Rule, ...]


ERRORS_KEY = "_errors"  # a bundle file's key for the providers that failed


@dataclass(frozen=True)
class Bundle:
    """Facts keyed by provider, the providers that failed (name → reason), and the bundle's
    file name when it was read from ``--facts DIR``.

    Its **digest** is the sha256 of the bundle's bytes: for a bundle read from a file, that
    file's bytes as read (``source_digest``, so ``sha256sum facts.json`` shows it); for one
    gathered in this process, the bytes ``wfgy-rules facts`` writes for it (`to_text`), so
    gathering now and judging the written file later give the same digest. Hashing bytes
    costs a fraction of re-encoding the document canonically, and is as sound: the bytes
    determine the facts."""

    facts: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    source_digest: str | None = field(default=None, compare=False)  # "sha256:…" of the file read
    # provider → the exact JSON text its facts were read from (`read_bundle(sections=True)`)
    sections: dict[str, str] | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = dict(sorted(self.facts.items()))
        if self.errors:
            data[ERRORS_KEY] = dict(sorted(self.errors.items()))
        return data

    def to_text(self) -> str:
        """The bundle as ``wfgy-rules facts`` writes it: indented JSON, sorted keys, UTF-8, a final newline."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @property
    def digest(self) -> str:
        if self.source_digest is not None:
            return self.source_digest
        # backslashreplace: a name or value that is not valid Unicode (an env var holding
        # byte 0xff) is written as an escape by `facts` (documents.atomic_write), so hashed as one
        return "sha256:" + hashlib.sha256(self.to_text().encode("utf-8", "backslashreplace")).hexdigest()
