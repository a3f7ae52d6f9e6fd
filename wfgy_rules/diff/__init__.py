"""The semantic diff: the declared runtime against the effective one, or one fact bundle
against another, as rows a person reads at a glance (``wfgy-rules diff``).

Every row pairs a *left* value (declared, or the old bundle's) with a *right* value
(effective, or the new bundle's) and a mark:

=========  ===============================================================================
equal      the two agree (a fingerprint that starts with the declared prefix, a version
           with no drift, enough GPU memory)
drifted    both are there and disagree; ``level`` says how far for versions (``patch``,
           ``minor``, ``major``, via `wfgy_rules.policy.versions.drift`), else what differs
missing    declared (or in the old bundle) but not found (or no longer there)
extra      found (or new in the new bundle) but not declared (or not in the old bundle)
unpaired   a model-card field with no effective counterpart in `pairings.PAIRINGS`
           (shown so every declared field is accounted for; never counted as drift)
=========  ===============================================================================

Rows carry names, versions, fingerprints, kinds and counts: facts hold no secret value, and
the env and secrets rows are built from names, kinds and sources only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MARKS = ("equal", "drifted", "missing", "extra", "unpaired")
# Marks that mean "the effective runtime is not what was declared" (``--exit-code``).
DRIFT_MARKS = frozenset({"drifted", "missing"})


@dataclass(frozen=True)
class Row:
    """One compared field: where it lives, both sides, the mark and a short note."""

    section: str  # "model_card ↔ runtime", "env", "secrets", "prompt variables", or a provider name
    field: str
    left: Any
    right: Any
    mark: str
    level: str | None = None  # drift level for versions: patch | minor | major
    note: str = ""

    def to_json(self, left: str, right: str) -> dict[str, Any]:
        data = {"section": self.section, "field": self.field, left: self.left, right: self.right, "mark": self.mark}
        if self.level is not None:
            data["level"] = self.level
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class Diff:
    """All rows of one comparison and what the two sides are called."""

    mode: str  # "declared-vs-effective" or "bundles"
    rows: tuple[Row, ...]
    left_label: str = "declared"
    right_label: str = "effective"
    left_name: str = ""  # e.g. the OLD bundle's file name
    right_name: str = ""

    @property
    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(MARKS, 0)
        for row in self.rows:
            counts[row.mark] += 1
        return counts

    @property
    def drifted(self) -> bool:
        return any(row.mark in DRIFT_MARKS for row in self.rows)
