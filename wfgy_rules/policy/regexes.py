"""Regular expressions from policies: compiled once, bounded in what they may cost.

Python's `re` has no timeout, so a pattern from a policy could backtrack catastrophically
on a large fact. Three bounds keep evaluation predictable:

* patterns are checked at load time (``op: regex`` values) or on first use, on the parsed
  pattern: a variable quantifier inside a repeated group (``(a+)+``, ``(.*a){20}``,
  ``(a?){25}``) and a repeated alternation whose branches can match the same text
  (``(a|aa)+``, ``(a|a)*``) — the shapes that backtrack exponentially — are refused;
* the text a pattern is matched against is capped at ``MAX_SUBJECT`` characters;
* a search that runs longer than ``MAX_SECONDS`` is stopped (an ``error`` result). Even a
  harmless-looking ``a*b`` is quadratic on a long run of ``a``; the parse check cannot
  see that, the clock can (`wfgy_rules.policy.deadlines`: on the main thread, where the
  engine runs; elsewhere only the first two bounds apply).
"""

from __future__ import annotations

import re
from functools import lru_cache

from wfgy_rules.errors import EvaluationError
from wfgy_rules.policy.deadlines import TimeUp, deadline

try:  # Python ≥ 3.11
    from re import _constants as _sre
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

MAX_SUBJECT = 1_000_000
MAX_SECONDS = 1.0

_BACKTRACKING_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT)
_POSSESSIVE = getattr(_sre, "POSSESSIVE_REPEAT", None)  # Python ≥ 3.11, like atomic groups
_ATOMIC = getattr(_sre, "ATOMIC_GROUP", None)
_ZERO_WIDTH = (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT)
_NESTED = "nests quantifiers (e.g. (a+)+), which can backtrack catastrophically"
_ALTERNATION = "repeats alternatives that can match the same text (e.g. (a|aa)+), which can backtrack catastrophically"


def check(pattern: str) -> str | None:
    """Why ``pattern`` is refused (invalid, or prone to catastrophic backtracking), or None."""
    try:
        re.compile(pattern)
        parsed = _sre_parse.parse(pattern)
    except re.error as exc:
        return f"invalid regular expression {pattern!r}: {exc}"
    except RecursionError:
        return f"regular expression {pattern!r} is nested too deeply"
    hazard = _hazard(parsed, repeated=False)
    return f"regular expression {pattern!r} {hazard}" if hazard else None


def _hazard(items, repeated: bool) -> str | None:
    """The first backtracking hazard in a parsed (sub)pattern; ``repeated``: inside a group
    that may match more than once."""
    for op, av in items:
        found = None
        if op in _BACKTRACKING_REPEATS:
            low, high, body = av
            if repeated and low != high:
                return _NESTED
            found = _hazard(body, repeated or high > 1)
        elif op is _POSSESSIVE:  # possessive repeats and atomic groups never give text back
            found = _hazard(av[2], False)
        elif op is _ATOMIC:
            found = _hazard(av, False)
        elif op is _sre.SUBPATTERN or op in (_sre.ASSERT, _sre.ASSERT_NOT):
            found = _hazard(av[-1], repeated)
        elif op is _sre.BRANCH:
            if repeated and _ambiguous(av[1]):
                return _ALTERNATION
            found = next(filter(None, (_hazard(alt, repeated) for alt in av[1])), None)
        elif op is _sre.GROUPREF_EXISTS:
            found = next(filter(None, (_hazard(alt, repeated) for alt in av[1:] if alt is not None)), None)
        if found:
            return found
    return None


def _ambiguous(alternatives) -> bool:
    """Whether two alternatives can start the same way (or one can match nothing: the parser
    turns ``a|aa`` into ``a(?:|a)``). Alternatives whose first character is not a plain
    literal or set are left to the time bound."""
    seen: set[int] = set()
    for alternative in alternatives:
        if _can_be_empty(alternative):
            return True
        first = _first_chars(alternative)
        if first is None:
            continue
        if first & seen:
            return True
        seen |= first
    return False


def _can_be_empty(items) -> bool:
    for op, av in items:
        if op in _ZERO_WIDTH:
            continue
        if op in _BACKTRACKING_REPEATS or op is _POSSESSIVE:
            if av[0] == 0 or _can_be_empty(av[2]):
                continue
            return False
        if op is _sre.SUBPATTERN or op is _ATOMIC:
            if _can_be_empty(av if op is _ATOMIC else av[-1]):
                continue
            return False
        if op is _sre.BRANCH:
            if any(_can_be_empty(alt) for alt in av[1]):
                continue
            return False
        return False
    return True


def _first_chars(items) -> set[int] | None:
    """The code points the (non-empty) pattern can start with, when that is easy to know."""
    for op, av in items:
        if op in _ZERO_WIDTH:
            continue
        if op is _sre.LITERAL:
            return {av}
        if op is _sre.IN:
            chars: set[int] = set()
            for kind, value in av:
                if kind is _sre.LITERAL:
                    chars.add(value)
                elif kind is _sre.RANGE and value[1] - value[0] < 1024:
                    chars.update(range(value[0], value[1] + 1))
                else:
                    return None
            return chars
        if op is _sre.SUBPATTERN:
            return _first_chars(av[-1])
        if op in _BACKTRACKING_REPEATS and av[0] > 0:
            return _first_chars(av[2])
        return None
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
    compiled = _compiled(pattern)
    with deadline(MAX_SECONDS) as watch:
        try:
            return compiled.search(text) is not None
        except TimeUp:
            if not watch.expired():
                raise  # the rule's own deadline: `wfgy_rules.run.engine` reports it
    raise EvaluationError(
        f"regular expression {pattern!r} ran longer than {MAX_SECONDS:g}s on a text of {len(text)} characters (catastrophic backtracking?)"
    )
