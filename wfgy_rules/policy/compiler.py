"""Policy documents → compiled `Rule`s, with every meaning check of SPEC §3.

Stages: the document is already YAML-valid; here it is checked against the policy schema,
then each structurally valid rule is compiled: JMESPath parsed once, functions and
operators resolved, `facts` checked against the installed providers, and every top-level
name an expression reads checked against ``facts`` + ``params`` (+ ``item``/``index`` under
``for_each``). A rule the schema rejects still has the expressions of its well-formed fields
compiled and checked (SPEC §3: every error of a file in one run, so ``severity: urgent``
never hides a JMESPath typo in the same rule). A bare ``null`` is accepted (JMESPath reads it as a missing field, which is
null, as the author meant); a bare ``true``/``false`` is refused, since it is also a field
and never the boolean. All problems of the file are collected and raised together.
"""

from __future__ import annotations

import re
from typing import Any

from wfgy_rules.documents.schema import validate
from wfgy_rules.documents.yamlio import Document
from wfgy_rules.errors import EvaluationError, PolicyError, Problem, did_you_mean
from wfgy_rules.model import (
    DEFAULT_STAGE,
    AllOf,
    AnyOf,
    Compare,
    Not,
    Policy,
    Remedy,
    Rule,
    Severity,
    SourceLocation,
)
from wfgy_rules.policy import regexes, versions
from wfgy_rules.policy.durations import parse_duration
from wfgy_rules.policy.expressions import (
    Expr,
    ExpressionSyntaxError,
    compile_expr,
    compile_template,
)
from wfgy_rules.policy.functions import FUNCTION_NAMES
from wfgy_rules.policy.operators import OPERATORS, UNARY

_VERSION_OPS = frozenset(op for op in OPERATORS if op.startswith("version_") and op != "version_satisfies")


def compile_policy(document: Document, order: int, providers: frozenset[str], shown_path: str | None = None,
                   asts: dict[str, dict] | None = None, validated: bool = False) -> Policy:
    """Compile one policy document; `PolicyError` listing every problem of the file.

    ``asts`` supplies (and collects) parsed expressions; ``validated`` skips the schema stage
    for a document that passed it before (both come from the policy cache)."""
    problems = [] if validated else validate(document, "policy")
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise PolicyError("invalid policy", problems)
    broken = {p.where for p in problems}
    compiler = _RuleCompiler(document, providers, asts)
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    name = str(metadata.get("name", ""))
    stage = data.get("stage", DEFAULT_STAGE)
    rules = []
    for index, raw in enumerate(data["rules"]):
        prefix = f"rules[{index}]"
        if not isinstance(raw, dict):
            continue
        if broken and any(w == prefix or w.startswith(prefix + ".") or w.startswith(prefix + "[") for w in broken):
            compiler.expressions_only(raw, index, {w for w in broken if w == prefix or w.startswith(prefix)})
            continue
        rule = compiler.rule(raw, index, order, name, shown_path or document.path, str(metadata.get("owner", "")), stage)
        if rule is not None:
            rules.append(rule)
    problems.extend(compiler.problems)
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise PolicyError("invalid policy", problems)
    return Policy(
        name=name,
        path=shown_path or document.path,
        file=document.path,
        sha256=document.digest,
        owner=str(metadata.get("owner", "")),
        description=str(metadata.get("description", "")),
        rules=tuple(rules),
    )


_BARE_ABORT = {"action": "abort"}  # a rule's remedy when it names none (read only)


def _new_rule(fields: dict[str, Any]) -> Rule:
    """``Rule(**fields)``, every field given, without the frozen dataclass's ``__init__``
    (one ``object.__setattr__`` per field: 0.03 s of a 10,000-rule policy).

    Speed-up: must equal ``Rule(**fields)``, field for field;
    ``tests/policy/test_compiler_fast_paths.py`` checks that for compiled rules."""
    rule = object.__new__(Rule)
    rule.__dict__.update(fields)
    return rule


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


class _RuleCompiler:
    def __init__(self, document: Document, providers: frozenset[str], asts: dict[str, dict] | None):
        self.document = document
        self.providers = providers
        self.asts = asts
        self.problems: list[Problem] = []
        self.scopes: dict[tuple[str, ...], tuple[frozenset[str], frozenset[str]]] = {}  # facts -> (scope, under for_each)
        self.plain_remedies: dict[str, Remedy] = {}  # action -> the Remedy of ``{action: …}`` alone (frozen: shared)

    def fail(self, where: tuple, message: str, key: bool = False) -> None:
        self.problems.append(self.document.problem(where, message, key))

    def expressions_only(self, raw: dict, index: int, broken: set[str]) -> None:
        """Check the expressions of a rule the schema rejected, field by field: each field
        whose own shape is valid (no schema problem at or under it) is compiled and its names
        checked, so one run lists every error. Names are checked only when ``facts`` is valid."""
        base = ("rules", index)

        def sound(key: str) -> bool:
            where = f"rules[{index}].{key}"
            return key in raw and not any(w == where or w.startswith(where + ".") or w.startswith(where + "[") for w in broken)

        if sound("facts"):
            facts = frozenset(raw["facts"]) & self.providers
            scope: frozenset[str] | None = facts | {"params"}
        else:
            scope = None
        item_scope = scope | {"item", "index"} if scope is not None and "for_each" in raw else scope
        for key in ("for_each", "when"):
            if sound(key):
                self.expr(raw[key], (*base, key), scope)
        if sound("assert"):
            self.assertion(raw["assert"], (*base, "assert"), item_scope)
        if sound("message"):
            self.template(raw["message"], (*base, "message"), item_scope)

    def rule(self, raw: dict, index: int, order: int, policy: str, path: str, owner: str, stage: str = DEFAULT_STAGE) -> Rule | None:
        base = ("rules", index)
        before = len(self.problems)
        facts = tuple(raw["facts"])
        for position, name in enumerate(facts):
            if name not in self.providers:
                self.fail((*base, "facts", position), f"unknown provider {name!r}{did_you_mean(name, self.providers)}; installed: {', '.join(sorted(self.providers))}")
        scopes = self.scopes.get(facts)
        if scopes is None:
            scope = frozenset(facts) | {"params"}
            scopes = self.scopes[facts] = (scope, scope | {"item", "index"})
        scope = scopes[0]
        has_for_each = "for_each" in raw
        for_each = self.expr(raw["for_each"], (*base, "for_each"), scope) if has_for_each else None
        item_scope = scopes[1] if has_for_each else scope
        when = self.expr(raw["when"], (*base, "when"), scope) if "when" in raw else None
        check = self.assertion(raw["assert"], (*base, "assert"), item_scope)
        message = self.template(raw["message"], (*base, "message"), item_scope) if "message" in raw else None
        remedy = self.remedy(raw.get("remedy", _BARE_ABORT), (*base, "remedy"))
        if len(self.problems) > before:
            return None
        line, column = self.document.locate(base)
        return _new_rule({
            "id": raw["id"],
            "title": raw["title"],
            "severity": Severity[raw["severity"]],
            "facts": facts,
            "check": check,
            "policy": policy,
            "policy_path": path,
            "location": SourceLocation(path, line, column),
            "order": (order, index),
            "description": raw.get("description", ""),
            "params": dict(raw.get("params", {})),
            "when": when,
            "for_each": for_each,
            "message": message,
            "remedy": remedy,
            "references": tuple(raw.get("references", ())),
            "tags": tuple(raw.get("tags", ())),
            "owner": owner,
            "enabled": True,
            "stage": raw.get("stage", stage),
        })

    def expr(self, text: Any, where: tuple, scope: frozenset[str] | None) -> Expr | None:
        if text is None:
            return None
        try:
            expr = compile_expr(text, self.asts)
        except ExpressionSyntaxError as exc:
            self.fail(where, str(exc))
            return None
        self.check_names(expr, where, scope)
        return expr

    def check_names(self, expr: Expr, where: tuple, scope: frozenset[str] | None) -> None:
        if expr.functions <= FUNCTION_NAMES and (scope is None or expr.roots <= scope):
            return  # every name known: nothing to report (the loops below would find nothing)
        for name in sorted(expr.functions - FUNCTION_NAMES):
            self.fail(where, f"unknown function {name}(){did_you_mean(name, FUNCTION_NAMES)}")
        if scope is None:  # facts itself is invalid: which names are readable is unknown
            return
        for name in sorted(expr.roots - scope - {"null"}):
            if name in ("true", "false"):
                self.fail(where, f"bare {name} is a field name in JMESPath (always null); write the literal `{name}` in backticks")
                continue
            self.fail(where, f"reads {name!r}, which is not in facts, params{', item, index' if 'item' in scope else ''}{did_you_mean(name, scope)}")

    def template(self, text: Any, where: tuple, scope: frozenset[str]):
        if text is None:
            return None
        try:
            template = compile_template(text, self.asts)
        except ExpressionSyntaxError as exc:
            self.fail(where, str(exc))
            return None
        for expr in template.expressions:
            self.check_names(expr, where, scope)
        return template

    def assertion(self, raw: Any, where: tuple, scope: frozenset[str]):
        if isinstance(raw, str):
            return self.expr(raw, where, scope)
        keys = [k for k in ("all", "any", "not", "key") if k in raw]
        if len(keys) != 1:
            self.fail(where, "a condition needs exactly one of: all, any, not, or key + op")
            return None
        kind = keys[0]
        extra = set(raw) - ({"key", "op", "value", "value_from"} if kind == "key" else {kind})
        if extra:
            self.fail(where, f"{', '.join(sorted(extra))} cannot be used together with {kind}")
            return None
        if kind == "not":
            return Not(self.assertion(raw["not"], (*where, "not"), scope))
        if kind in ("all", "any"):
            children = tuple(self.assertion(c, (*where, kind, i), scope) for i, c in enumerate(raw[kind]))
            return AllOf(children) if kind == "all" else AnyOf(children)
        return self.compare(raw, where, scope)

    def compare(self, raw: dict, where: tuple, scope: frozenset[str]) -> Compare | None:
        op = raw.get("op")
        if op is None:
            self.fail(where, "a comparison needs op")
            return None
        key = self.expr(raw["key"], (*where, "key"), scope)
        has_value, has_from = "value" in raw, "value_from" in raw
        if op in UNARY and (has_value or has_from):
            self.fail(where, f"op {op} takes no value or value_from")
            return None
        if op not in UNARY and has_value == has_from:
            self.fail(where, f"op {op} needs exactly one of value or value_from")
            return None
        value_from = self.expr(raw.get("value_from"), (*where, "value_from"), scope) if has_from else None
        if has_value:
            self.check_literal(op, raw["value"], (*where, "value"))
        return Compare(key, op, raw.get("value"), value_from)

    def check_literal(self, op: str, value: Any, where: tuple) -> None:
        try:
            if op == "regex":
                problem = regexes.check(value) if isinstance(value, str) else f"regex needs a string pattern, got {value!r}"
                if problem:
                    self.fail(where, problem)
            elif op in _VERSION_OPS:
                versions.parse(value)
            elif op == "version_satisfies":
                versions.satisfies("0", value)
        except EvaluationError as exc:
            self.fail(where, str(exc))

    def remedy(self, raw: dict, where: tuple) -> Remedy:
        """The rule's `Remedy`; problems of its durations and env added to the file's.

        Speed-up: a bare ``{action: …}`` (most rules) gets one shared frozen `Remedy` per action;
        it must equal what the full path below builds, checked by
        ``tests/policy/test_compiler_fast_paths.py``."""
        if len(raw) == 1 and "action" in raw:  # the common ``remedy: {action: …}``: nothing to check
            if raw["action"] not in self.plain_remedies:
                self.plain_remedies[raw["action"]] = Remedy(action=raw["action"], hint="", env=(), timeout=None, interval=2.0)
            return self.plain_remedies[raw["action"]]
        timeout = interval = None
        try:
            timeout = parse_duration(raw["timeout"]) if "timeout" in raw else None
            interval = parse_duration(raw["interval"]) if "interval" in raw else 2.0
        except ValueError as exc:
            self.fail(where, str(exc))
        for name, value in raw.get("env", {}).items():
            if not _ENV_NAME.fullmatch(name):
                self.fail((*where, "env", name), f"{name!r} is not an environment variable name (letters, digits and _, not starting with a digit)")
            elif "\0" in value:
                self.fail((*where, "env", name), "a value cannot hold a NUL character (no process environment can carry it)")
        return Remedy(
            action=raw["action"],
            hint=raw.get("hint", ""),
            env=tuple(sorted(raw.get("env", {}).items())),
            timeout=timeout,
            interval=interval or 2.0,
        )

