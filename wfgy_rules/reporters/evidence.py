"""Evidence as text lines, shared by the text report and ``explain``: each comparison with
both values, then the sub-expressions that made it fail, pytest style::

    where starts_with(runtime.model_dir.tokenizer.sha256, model_card.declared.tokenizer_sha) → false
      runtime.model_dir.tokenizer.sha256 = "d5b64bb613c8…" (string)
      model_card.declared.tokenizer_sha = "ad4c1b9" (string)

Values are shortened (`wfgy_rules.jsonvalues.show`); the JSON, SARIF and JUnit reports carry
them whole. Facts hold no secret value, so neither can this.
"""

from __future__ import annotations

from wfgy_rules.jsonvalues import show
from wfgy_rules.model import Evidence
from wfgy_rules.policy.subexpressions import step_lines

_SYMBOLS = frozenset({"==", "!=", "<", "<=", ">", ">="})


def evidence_lines(evidence: tuple[Evidence, ...] | list[Evidence], indent: str = "    ") -> list[str]:
    lines: list[str] = []
    for item in evidence:
        if item.op == "truthy" and not item.values and item.key.startswith("`"):
            continue  # `false`: a rule that fails whenever it runs (for_each findings) has nothing to explain
        lines.append(indent + "where " + _headline(item))
        lines.extend(step_lines(item.values, indent + "  "))
    return lines


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
