"""What a failing expression was made of: each sub-expression with its value, the way
pytest's assertion rewriting explains ``assert f(x) == y``.

``explain(expr, data)`` walks the JMESPath AST (``jmespath.parser``) of a compiled `Expr`
and evaluates, with the same function table as every rule (`wfgy_rules.policy.functions`),
the expression itself and then each operand of its operators and function calls, depth
first: for ``starts_with(runtime.model_dir.tokenizer.sha256, model_card.declared.tokenizer_sha)``

    starts_with(runtime.model_dir.tokenizer.sha256, model_card.declared.tokenizer_sha) = false
      runtime.model_dir.tokenizer.sha256 = "d5b64bb613c8…"
      model_card.declared.tokenizer_sha = "ad4c1b9"

Field paths (``a.b[0].c``), projections and filters are shown as one value, not taken apart;
literals and ``@`` are not shown; an operator or call that occurs twice is taken apart once; the right side of ``&&``
and ``||`` only when JMESPath evaluated it. A sub-expression that cannot be evaluated is
shown with its error. Only the engine's failing and error results are explained, so passing
rules never pay for this.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from jmespath import exceptions as jp_errors
from jmespath.visitor import Options, TreeInterpreter

from wfgy_rules.errors import EvaluationError
from wfgy_rules.jsonvalues import MAX_SHOWN_VALUES, a_type_name, show, within
from wfgy_rules.policy.functions import FUNCTIONS
from wfgy_rules.policy.jmespath_closures import compile_ast

_INTERPRETER = TreeInterpreter(Options(custom_functions=FUNCTIONS))
_OPERATORS = frozenset({"comparator", "and_expression", "or_expression", "not_expression", "function_expression",
                        "multi_select_list", "multi_select_dict", "key_val_pair"})
_HIDDEN = frozenset({"literal", "current", "identity", "expref", "key_val_pair"})
_SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_PRECEDENCE = {"pipe": 1, "or_expression": 2, "and_expression": 3, "not_expression": 4, "comparator": 5}


class Step(NamedTuple):
    """One explained sub-expression: its depth under the explained expression, its text, and
    its value (or ``error``, why it has none)."""

    depth: int
    text: str
    value: Any = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"expr": self.text, "depth": self.depth}
        if self.error is not None:
            data["error"] = self.error
        else:
            data["value"] = self.value
        return data


def step_lines(steps: tuple[Step, ...], indent: str) -> list[str]:
    """``text = value`` lines, indented by depth, values shortened (`wfgy_rules.jsonvalues.show`)."""
    return [f"{indent}{'  ' * step.depth}{step.text} = " + (f"error: {step.error}" if step.error is not None else show(step.value))
            for step in steps]


def explain(ast: dict, data: Any, depth: int = 0, include_root: bool = True) -> tuple[Step, ...]:
    """The steps of ``ast`` over ``data`` (the root first unless ``include_root`` is false)."""
    steps: list[Step] = []
    _visit(ast, data, depth if include_root else depth - 1, steps, set(), include_root)
    return tuple(steps)


def _visit(node: dict, data: Any, depth: int, steps: list[Step], seen: set[str], show: bool) -> None:
    kind = node["type"]
    if kind in _HIDDEN and kind != "key_val_pair" or (kind == "field" and node["value"] == "null"):
        return  # literals, @, and the bare `null` the compiler allows (a missing field: null)
    if show and kind != "key_val_pair":
        text = unparse(node)
        if kind in _OPERATORS:
            if text in seen:
                return
            seen.add(text)
        value, error = evaluate_node(node, data)
        steps.append(Step(depth, text, value, error))
        if error is not None and kind not in _OPERATORS:
            return
    if kind not in _OPERATORS:
        return
    children = [c for c in node.get("children", []) if isinstance(c, dict)]
    if kind in ("and_expression", "or_expression"):
        left, error = evaluate_node(children[0], data)
        _visit(children[0], data, depth + 1, steps, seen, True)
        if error is None and (_truthy(left) == (kind == "and_expression")):
            _visit(children[1], data, depth + 1, steps, seen, True)
        return
    for child in children:
        _visit(child, data, depth + (0 if kind == "key_val_pair" else 1), steps, seen, True)


def evaluate_node(node: dict, data: Any) -> tuple[Any, str | None]:
    """The node's value through the same bounded closures as the rule (the interpreter only
    for a node they do not compile); a value too large to show is replaced by why."""
    try:
        evaluate = compile_ast(node, FUNCTIONS)
        value = evaluate(data) if evaluate is not None else _INTERPRETER.visit(node, data)
        if not within(value, MAX_SHOWN_VALUES):
            return None, f"{a_type_name(value)} of more than {MAX_SHOWN_VALUES} values, not shown"
        return value, None
    except EvaluationError as exc:
        return None, str(exc)
    except jp_errors.JMESPathError as exc:
        return None, " ".join(str(exc).split())
    except (TypeError, ValueError, AttributeError, ArithmeticError, RecursionError) as exc:
        return None, f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _truthy(value: Any) -> bool:
    return not (value is None or value is False or value == "" or value == [] or value == {})


def unparse(node: dict) -> str:
    """JMESPath text for an AST node (normalised: spacing, quoting and parentheses may differ
    from the policy's text, the meaning does not)."""
    kind = node["type"]
    children = node.get("children", [])
    if kind == "field":
        return _identifier(node["value"])
    if kind == "subexpression":
        return ".".join(unparse(c) for c in children)
    if kind == "index_expression":
        left = "" if children[0]["type"] == "identity" else unparse(children[0])
        return left + "".join(unparse(c) for c in children[1:])
    if kind == "index":
        return f"[{node['value']}]"
    if kind == "slice":
        start, stop, step = (("" if v is None else str(v)) for v in children)
        return f"[{start}:{stop}" + (f":{step}]" if step else "]")
    if kind == "projection":
        left, right = children
        shown = unparse(left)
        if not (left["type"] == "flatten" or (left["type"] == "index_expression" and left["children"][1]["type"] == "slice")):
            shown += "[*]"
        return shown + _tail(right)
    if kind == "value_projection":
        return unparse(children[0]) + ".*" + _tail(children[1])
    if kind == "filter_projection":
        left, right, condition = children
        return f"{unparse(left)}[?{unparse(condition)}]" + _tail(right)
    if kind == "flatten":
        return unparse(children[0]) + "[]"
    if kind in ("comparator", "and_expression", "or_expression", "pipe"):
        symbol = _SYMBOLS.get(node.get("value"), {"and_expression": "&&", "or_expression": "||", "pipe": "|"}.get(kind))
        return f"{_wrapped(children[0], kind)} {symbol} {_wrapped(children[1], kind, right=True)}"
    if kind == "not_expression":
        return "!" + _wrapped(children[0], kind)
    if kind == "function_expression":
        return f"{node['value']}({', '.join(unparse(c) for c in children)})"
    if kind == "expref":
        return "&" + unparse(children[0])
    if kind == "multi_select_list":
        return "[" + ", ".join(unparse(c) for c in children) + "]"
    if kind == "multi_select_dict":
        return "{" + ", ".join(f"{_identifier(c['value'])}: {unparse(c['children'][0])}" for c in children) + "}"
    if kind == "literal":
        value = node["value"]
        if isinstance(value, str):
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "`" + json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "`"
    if kind in ("current", "identity"):
        return "@"
    return f"<{kind}>"


def _tail(node: dict) -> str:
    if node["type"] == "identity":
        return ""
    text = unparse(node)
    return text if text.startswith("[") else "." + text


def _wrapped(child: dict, parent: str, right: bool = False) -> str:
    text = unparse(child)
    mine, theirs = _PRECEDENCE.get(parent, 10), _PRECEDENCE.get(child["type"], 10)
    if theirs < mine or (theirs == mine and (parent == "comparator" or right)):
        return f"({text})"
    return text


def _identifier(name: str) -> str:
    if name.isidentifier() and name.isascii():
        return name
    return json.dumps(name, ensure_ascii=False)
