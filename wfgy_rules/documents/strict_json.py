"""JSON read as the fact bundles are (`wfgy_rules.documents.fact_bundles`), for documents
that are not bundles (a DSSE envelope, the statement it signs): duplicate keys, ``NaN`` and
``Infinity``, and nesting deeper than ``MAX_DEPTH`` levels are refused.

Two readers of one document must see one document. With a duplicate key, Python keeps the
last value and other readers keep the first, so a file holding a forged ``"payload"`` first
and the genuine one last would verify here and mean the forgery elsewhere: no reader of ours
picks one. Nesting is capped below the interpreter's recursion limit, so a file of 200,000
``[`` is one clear refusal, never a crash.
"""

from __future__ import annotations

import json
from typing import Any

from wfgy_rules.documents.fact_bundles import MAX_DEPTH, check_depth


def loads(text: str | bytes) -> Any:
    """The JSON value of ``text``; `ValueError` with a one-line reason otherwise (a
    ``json.JSONDecodeError`` when the text is not JSON at all)."""
    try:
        value = _DECODER.decode(text.decode() if isinstance(text, bytes) else text)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    check_depth(value)
    return value


def _one_value_per_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"duplicate key {key!r}")
        data[key] = value
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(object_pairs_hook=_one_value_per_key, parse_constant=_refuse_constant)
