"""Evidence as text lines, shared by the text report and ``explain``: each comparison with
both values, then the sub-expressions that made it fail, pytest style::

    where starts_with(runtime.model_dir.tokenizer.sha256, model_card.declared.tokenizer_sha) → false
      runtime.model_dir.tokenizer.sha256 = "d5b64bb613c8…" (string)
      model_card.declared.tokenizer_sha = "ad4c1b9" (string)

Values are shortened (`wfgy_rules.jsonvalues.show`); the JSON, SARIF and JUnit reports carry
them whole. Facts hold no secret value, so neither can this.

`compact_lines` is the default text report's form: flat, one line per field the failing
check read (its value, no type), and a simple comparison in one line::

    secrets.missing = ["HF_TOKEN"]
    file.serving.replicas = 1 (ge 2)
    nvml.available = false
"""

from __future__ import annotations

import json
from typing import Any

from wfgy_rules.jsonvalues import show
from wfgy_rules.model import Evidence
from wfgy_rules.policy.subexpressions import Step, step_lines

_SYMBOLS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_UNARY = frozenset({"exists", "absent", "empty", "not_empty"})
_MAX_VALUE = 120


def evidence_lines(evidence: tuple[Evidence, ...] | list[Evidence], indent: str = "    ") -> list[str]:
    lines: list[str] = []
    for item in evidence:
        if item.op == "truthy" and not item.values and item.key.startswith("`"):
            continue  # `false`: a rule that fails whenever it runs (for_each findings) has nothing to explain
        lines.append(indent + "where " + _headline(item))
        lines.extend(step_lines(item.values, indent + "  "))
    return lines


def compact_lines(evidence: tuple[Evidence, ...] | list[Evidence], indent: str = "    ") -> list[str]:
    """Flat evidence: each comparison in one line, then the fields below it, each once."""
    lines: list[str] = []
    for item in evidence:
        if item.op == "truthy" and not item.values and item.key.startswith("`"):
            continue
        fields = _fields(item.values)
        if item.op == "truthy":
            lines.extend(fields or [f"{item.key} = {_value(item.left)}"])
            continue
        if item.op == "error":
            pass  # the result's message is the error: the fields it read follow
        elif item.op == "not":
            lines.append(f"not ({item.key}): its condition held")
        elif item.op in _SYMBOLS:
            lines.append(f"{item.key} → {_value(item.left)} {item.op} {_value(item.right)}")
        else:
            compared = "" if item.op in _UNARY else f" ({item.op} {_value(item.right)})"
            lines.append(f"{item.key} = {_value(item.left)}{compared}")
        lines.extend(fields)
    return [indent + line for line in dict.fromkeys(lines)]


def _fields(steps: tuple[Step, ...]) -> list[str]:
    """``path = value`` for each field path among the steps (not the operators and calls)."""
    return [f"{step.text} = {_value(step.value)}" for step in steps
            if step.error is None and not any(c.isspace() for c in step.text) and "(" not in step.text
            and not step.text.startswith("!")]


def _value(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "), default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _headline(item: Evidence) -> str:
    if item.op == "truthy":
        return f"{item.key} → {show(item.left)}"
    if item.op == "error":
        return f"{item.key} → error"
    if item.op == "not":
        return f"not ({item.key}) → its condition held"
    if item.op in _SYMBOLS:
        return f"{item.key} → {show(item.left)} {item.op} {show(item.right)}"
    return f"{item.key} {item.op} → {show(item.left)} vs {show(item.right)}"
