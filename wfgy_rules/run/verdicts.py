"""One rule judged once per distinct input across a fleet (``eval --facts DIR``).

A rule's results depend on nothing but the rule, the facts of the providers it names in
``facts:``, those providers' failures (``_errors``) and the run's waivers: not on the bundle's
file name, not on the other providers, not on the clock. A fleet of 100,000 nodes running a
handful of images holds a handful of distinct ``runtime`` or ``model_card`` sections, so
`Verdicts` remembers, per rule, the `Verdict` it gave for the exact text of the sections it
read (`wfgy_rules.model.Bundle.sections`; rules reading the same providers are looked up
together), and a later bundle with the same text reuses it instead of evaluating the rule
again. Bundles whose sections all differ (an ``nvml`` section
naming each node's GPUs) are judged afresh, at the cost of one dictionary lookup a rule.

Sound by construction: the key is the exact JSON text the facts were parsed from, and equal
text parses to equal facts. Results are those of judging every bundle afresh, byte for byte
in every report (``tests/run/test_verdicts.py`` compares the two on fleets with and without
repeated sections, serially and with ``--jobs``). A rule stopped by its time budget is not
remembered: the next bundle tries again.

Memory stays bounded: at most `MAX_ENTRIES` verdicts holding at most `MAX_TEXT` characters of
section text, the oldest forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from wfgy_rules.model import Bundle, Result, Status

MAX_ENTRIES = 4096
MAX_TEXT = 32 << 20  # characters of section text the keys may hold, counted per entry


@dataclass(frozen=True)
class Verdict:
    """One rule's results over one bundle: waived, marked blocking, in report order, and
    without a target (the bundle's file name is added where they are reported)."""

    results: tuple[Result, ...]
    counts: tuple[tuple[str, int], ...]  # (status, how many), for a report's summary
    blocking: bool
    rendered: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # a reporter's text of it, kept for reuse

    @classmethod
    def of(cls, results: list[Result]) -> Verdict:
        if len(results) == 1:  # most rules: one result
            result = results[0]
            return cls((result,), ((_VALUE[result.status], 1),), result.blocking)
        counts: dict[str, int] = {}
        for result in results:
            value = _VALUE[result.status]
            counts[value] = counts.get(value, 0) + 1
        return cls(tuple(results), tuple(counts.items()), any(r.blocking for r in results))


_VALUE = {status: status.value for status in Status}  # an Enum's .value is a slow property


class Verdicts:
    """The verdicts remembered in one process: for each group of rules that read the same
    providers, their verdicts by the text of those providers' sections (bounded, oldest out
    first)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_text: int = MAX_TEXT):
        self._found: OrderedDict[tuple, tuple[tuple[Verdict, ...], int]] = OrderedDict()
        self._max_entries = max_entries
        self._max_text = max_text
        self._text = 0

    @staticmethod
    def key(group: int, facts: tuple[str, ...], bundle: Bundle) -> tuple | None:
        """What rule group number ``group``, reading providers ``facts``, reads of ``bundle``;
        None when the bundle has no section texts (it was not read from a file)."""
        sections = bundle.sections
        if sections is None:
            return None
        if not bundle.errors:
            return (group, *map(sections.get, facts))
        return (group, *map(sections.get, facts), *map(bundle.errors.get, facts))

    def get(self, key: tuple) -> tuple[Verdict, ...] | None:
        found = self._found.get(key)
        return found[0] if found is not None else None

    def put(self, key: tuple, verdicts: tuple[Verdict, ...]) -> None:
        size = sum(len(part) for part in key[1:] if part is not None)
        if size > self._max_text or key in self._found:
            return
        self._found[key] = (verdicts, size)
        self._text += size
        while len(self._found) > self._max_entries or self._text > self._max_text:
            self._text -= self._found.popitem(last=False)[1][1]

    def __len__(self) -> int:
        return len(self._found)
