"""Regular expressions from policies: compiled once, bounded in what they may cost.

Python's `re` has no timeout, so a pattern from a policy could backtrack catastrophically
on a large fact. Two bounds keep evaluation predictable:

* patterns are compiled at load time; nested quantifiers over the same group such as
  ``(a+)+`` or ``(a|a)*`` — the shapes that backtrack exponentially — are refused there;
* the text a pattern is matched against is capped at ``MAX_SUBJECT`` characters; a longer
  subject is an ``error`` result rather than an unbounded search.
"""

from __future__ import annotations

import re
from functools import lru_cache

from wfgy_rules.errors import EvaluationError

MAX_SUBJECT = 1_000_000
# A quantified group whose body itself ends in (or contains) a quantifier: (x+)+, (x*)*, (x+|y)*, (?:a{2,})+
_NESTED_QUANTIFIER = re.compile(r"\((?:\?[:=!<]?[^)]*?)?[^()]*[+*}][^()]*\)[+*{]")


def check(pattern: str) -> str | None:
    """Why ``pattern`` is refused (invalid, or prone to catastrophic backtracking), or None."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"invalid regular expression {pattern!r}: {exc}"
    if _NESTED_QUANTIFIER.search(pattern):
        return f"regular expression {pattern!r} nests quantifiers (e.g. (a+)+), which can backtrack catastrophically"
    return None


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    problem = check(pattern)
    if problem:
        raise EvaluationError(problem)
    return re.compile(pattern)


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``text`` (bounded as described above)."""
    if len(text) > MAX_SUBJECT:
        raise EvaluationError(f"text of {len(text)} characters is over the {MAX_SUBJECT}-character regex limit")
    return _compiled(pattern).search(text) is not None
