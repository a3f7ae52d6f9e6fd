"""The value a launch gives a fact, read as the engine's own parser reads it.

``int`` is Python's ``int()`` (argparse ``type=int``, clap's integer parsers); ``float`` is
``float()``; ``vllm_human_int`` also takes ``1k`` = 1000 and ``1K`` = 1024 (vLLM's
``human_readable_int``), ``vllm_human_int_or_auto`` also ``-1``/``auto`` (fit to memory at
boot); ``sglang_human_int`` takes ``1k`` = 1000 and ``1Ki`` = 1024 (SGLang's). A ``str`` fact
may be case-folded, checked against the engine's choices (and normalised: ``half`` ->
``float16``) or read as "the engine decides" (``null_values``). Bounds are the engine's own
(``--tensor-parallel-size`` at least 1, ``--gpu-memory-utilization`` in (0, 1]).

A bad value is an error message, never an exception; the message quotes the value only when
it cannot be a credential.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from wfgy_rules.providers.env.credentials import holds_credential
from wfgy_rules.providers.serving.engine_tables import Fact

AUTO = "auto"  # vllm_human_int_or_auto's -1 / auto
_VLLM_SUFFIX = re.compile(r"(\d+(?:\.\d+)?)([kKmMgGtT])")
_VLLM_DECIMAL = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_VLLM_BINARY = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_SGLANG_SUFFIX = re.compile(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)")
_SGLANG_SI = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_SGLANG_IEC = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_TYPE_WORDS = {
    "int": "an integer",
    "vllm_human_int": "an integer (1k = 1000, 1K = 1024)",
    "vllm_human_int_or_auto": "an integer (1k = 1000, 1K = 1024), -1 or auto",
    "sglang_human_int": "an integer (1k = 1000, 1Ki = 1024)",
    "float": "a number",
}


def convert(fact: Fact, raw: str, shown_as: str) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, message)`` when the engine would refuse ``raw``."""
    text = raw.strip() if fact.type != "str" else raw
    if fact.type == "str":
        return _string(fact, text, shown_as)
    if text in fact.null_values:
        return None, None
    try:
        value = _NUMBER[fact.type](text)
    except (ValueError, InvalidOperation):
        return None, f"{shown_as} expects {_TYPE_WORDS[fact.type]}, got {shown(raw)}"
    if value == AUTO:
        return AUTO, None
    return value, _bounds(fact, value, shown_as)


def shown(raw: str) -> str:
    """How an error may show a value: quoted, unless it could be a credential or is long."""
    if holds_credential(raw):
        return "a value that looks like a credential (not shown)"
    if len(raw) > 64:
        return f"a value of {len(raw)} characters"
    return repr(raw)


def _string(fact: Fact, text: str, shown_as: str) -> tuple[Any, str | None]:
    folded = text.lower() if fact.case == "lower" else text.upper() if fact.case == "upper" else text
    if folded in fact.null_values:
        return None, None
    if fact.choices is None:
        return folded, None
    if folded in fact.choices:
        return fact.choices[folded], None
    return None, f"{shown_as} expects one of {', '.join(sorted(fact.choices))}, got {shown(text)}"


def _bounds(fact: Fact, value: float, shown_as: str) -> str | None:
    if fact.minimum is not None and value < fact.minimum:
        return f"{shown_as} must be at least {_number(fact.minimum)}, got {_number(value)}"
    if fact.above is not None and value <= fact.above:
        return f"{shown_as} must be above {_number(fact.above)}, got {_number(value)}"
    if fact.maximum is not None and value > fact.maximum:
        return f"{shown_as} must be at most {_number(fact.maximum)}, got {_number(value)}"
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _suffixed(text: str, pattern: re.Pattern[str], decimal: dict, binary: dict, exact: bool) -> int:
    """``1k``-style integers: vLLM multiplies a float (``exact`` False), SGLang a Decimal;
    a binary suffix takes whole numbers only ("1.5K" is refused by both)."""
    match = pattern.fullmatch(text)
    if match is None:
        return int(text)
    number, suffix = match.groups()
    if suffix in binary:
        return int(number) * binary[suffix]
    return int(Decimal(number) * decimal[suffix]) if exact else int(float(number) * decimal[suffix])


def _vllm_human_int(text: str) -> int:
    return _suffixed(text, _VLLM_SUFFIX, _VLLM_DECIMAL, _VLLM_BINARY, exact=False)


def _vllm_human_int_or_auto(text: str) -> int | str:
    if text == "-1" or text.lower() == "auto":
        return AUTO
    return _vllm_human_int(text)


def _sglang_human_int(text: str) -> int:
    return _suffixed(text, _SGLANG_SUFFIX, _SGLANG_SI, _SGLANG_IEC, exact=True)


def _float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


_NUMBER = {
    "int": int,
    "vllm_human_int": _vllm_human_int,
    "vllm_human_int_or_auto": _vllm_human_int_or_auto,
    "sglang_human_int": _sglang_human_int,
    "float": _float,
}
