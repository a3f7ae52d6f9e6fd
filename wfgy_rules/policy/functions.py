"""Custom JMESPath functions, available in every expression.

=====================================  ==================================================
``version_cmp(a, b)``                  -1, 0 or 1 (versions parsed leniently, fail-closed)
``version_satisfies(v, spec)``         PEP 440 specifier, e.g. ``">=12.1,<13"``
``version_drift(a, b)``                ``"none" | "patch" | "minor" | "major"``
``regex_match(pattern, s)``            whether ``pattern`` matches anywhere in ``s``
``close_matches(name, candidates)``    candidates within difflib ratio 0.8 of ``name``
``add(a, b)`` ``subtract(a, b)``       arithmetic on two numbers (JMESPath has none)
``multiply(a, b)`` ``divide(a, b)``    ``divide`` is exact: ``divide(`8`, `2`)`` is ``4``,
``mod(a, b)``                          ``divide(`1`, `4`)`` is ``0.25``; ``mod`` takes the
                                       sign of ``b`` (Python's ``%``)
``round(n, digits)``                   ``n`` rounded to ``digits`` decimals (0–12; half to even)
``record_changes(locked, found)``      what changed between two ``{file: record}`` objects
                                       (the card's ``files.*`` and a model directory's
                                       ``per_file``): ``["tokenizer_config.json:
                                       add_eos_token false → true"]``
                                       (`wfgy_rules.policy.record_changes`); ``[]`` for null
=====================================  ==================================================

The arithmetic is type-strict like the rest of the dialect: a string, boolean or null
argument is an ``error`` result naming the function (``multiply`` of ``"4"`` is not 16), and
so is a division or ``mod`` by zero. A fit rule reads, for example::

    assert: "multiply(serving.launch.tensor_parallel_size, serving.launch.pipeline_parallel_size) <= serving.gpus.visible_count"

A non-version argument to a ``version_*`` function makes the rule an ``error`` result, and
so does a number that is not finite: ``to_number('1e999')``, ``to_number('nan')`` or a
``sum``/``avg`` that overflows (JSON has no NaN or infinity, so no report could show it).
"""

from __future__ import annotations

import difflib
import math

from jmespath import functions

from wfgy_rules.errors import EvaluationError
from wfgy_rules.jsonvalues import MAX_RENDERED_VALUES, a_type_name, within
from wfgy_rules.policy import versions
from wfgy_rules.policy.record_changes import record_changes
from wfgy_rules.policy.regexes import search as regex_search

_VERSIONISH = {"types": ["string", "number"]}
_NUMBER = {"types": ["number"]}
MAX_ROUND_DIGITS = 12


class WfgyFunctions(functions.Functions):
    """JMESPath's built-in functions plus the ones above."""

    @functions.signature(_VERSIONISH, _VERSIONISH)
    def _func_version_cmp(self, a, b):
        return versions.compare(a, b)

    @functions.signature(_VERSIONISH, {"types": ["string"]})
    def _func_version_satisfies(self, version, spec):
        return versions.satisfies(version, spec)

    @functions.signature(_VERSIONISH, _VERSIONISH)
    def _func_version_drift(self, a, b):
        return versions.drift(a, b)

    @functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_regex_match(self, pattern, text):
        return regex_search(pattern, text)

    @functions.signature({"types": ["string"]}, {"types": ["array"]})
    def _func_close_matches(self, name, candidates):
        strings = [c for c in candidates if isinstance(c, str)]
        return difflib.get_close_matches(name, strings, n=3, cutoff=0.8)

    @functions.signature({"types": ["object", "null"]}, {"types": ["object", "null"]})
    def _func_record_changes(self, locked, found):
        return record_changes(locked, found)

    @functions.signature({"types": []})
    def _func_to_string(self, value):
        if not isinstance(value, str) and not within(value, MAX_RENDERED_VALUES):
            raise EvaluationError(f"to_string: {a_type_name(value)} of more than {MAX_RENDERED_VALUES} values is too large")
        return super()._func_to_string(value)

    @functions.signature({"types": []})
    def _func_to_number(self, value):
        return _finite("to_number", super()._func_to_number(value))

    @functions.signature({"types": ["array-number"]})
    def _func_sum(self, values):
        return _finite("sum", lambda: super(WfgyFunctions, self)._func_sum(values))

    @functions.signature({"types": ["array-number"]})
    def _func_avg(self, values):
        return _finite("avg", lambda: super(WfgyFunctions, self)._func_avg(values))


    @functions.signature(_NUMBER, _NUMBER)
    def _func_add(self, a, b):
        return _finite("add", lambda: _exact(a + b))

    @functions.signature(_NUMBER, _NUMBER)
    def _func_subtract(self, a, b):
        return _finite("subtract", lambda: _exact(a - b))

    @functions.signature(_NUMBER, _NUMBER)
    def _func_multiply(self, a, b):
        return _finite("multiply", lambda: _exact(a * b))

    @functions.signature(_NUMBER, _NUMBER)
    def _func_divide(self, a, b):
        if b == 0:
            raise EvaluationError(f"divide({a}, 0): division by zero")
        if isinstance(a, int) and isinstance(b, int) and a % b == 0:
            return a // b
        return _finite("divide", lambda: a / b)

    @functions.signature(_NUMBER, _NUMBER)
    def _func_mod(self, a, b):
        if b == 0:
            raise EvaluationError(f"mod({a}, 0): division by zero")
        return _finite("mod", lambda: a % b)

    @functions.signature(_NUMBER, _NUMBER)
    def _func_round(self, value, digits):
        if not isinstance(digits, int) or not 0 <= digits <= MAX_ROUND_DIGITS:
            raise EvaluationError(f"round(): digits must be a whole number from 0 to {MAX_ROUND_DIGITS}, got {digits}")
        return _finite("round", lambda: _exact(round(value, digits)))


def _exact(value):
    """An integral float (``4.0``) as the int it is, so ``divide(`8`, `2`) == `4``` holds."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _finite(name: str, value):
    """``value`` (or the result of calling it) when it is a finite JSON number or not a number."""
    try:
        result = value() if callable(value) else value
    except OverflowError:
        raise EvaluationError(f"{name}() overflows: the result is too large for a number") from None
    if isinstance(result, float) and not math.isfinite(result):
        raise EvaluationError(f"{name}() gives {result}, which is not a finite JSON number")
    return result


FUNCTIONS = WfgyFunctions()
FUNCTION_NAMES = frozenset(FUNCTIONS.FUNCTION_TABLE)
