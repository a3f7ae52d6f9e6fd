"""Every option ``python -m sglang.launch_server`` accepts, read from SGLang's source with `ast`.

``ServerArgs.add_cli_args`` (sglang/srt/server_args.py) registers one option per annotated field
of the namespace classes listed in ``_INPUT_NAMESPACES`` (sglang/srt/arg_groups/fields/*.py)
through ``add_cli_args_from_dataclass`` (sglang/srt/arg_groups/arg_utils.py), then a few by
hand. A field ``name: A[T, "help"]`` or ``A[T, Arg(...)]`` becomes ``--name`` (or
``Arg(cli_name=)``) plus ``Arg(aliases=)``; ``Arg(no_cli=True)`` fields have no option. Its
arity follows ``add_cli_args_from_dataclass``: an ``action`` decides (a string action by name,
an action class by the ``nargs`` it is given or defaults to), then ``Optional`` is unwrapped,
``Literal`` takes one word, ``list`` (without ``type_parser``) several, ``bool`` is a
``store_true`` switch, anything else one word (or ``Arg(nargs=)``).
"""

from __future__ import annotations

import ast

from tests.providers.serving.argdefs import (
    FlagDef,
    subscript_head,
    takes_from_action,
    takes_from_nargs,
    is_boolean_optional,
)
from tests.providers.serving.pysource import SourceTree, call_name, constant_strings, keyword

SERVER_ARGS = "sglang/srt/server_args.py"


def sglang_flags(tree: SourceTree) -> list[FlagDef]:
    flags: list[FlagDef] = []
    module = tree.module(SERVER_ARGS)
    for name in _input_namespaces(module):
        found = tree.find_class(SERVER_ARGS, name)
        if found is None:
            raise LookupError(f"namespace class {name}")
        for item in found.node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                flag = _field_flag(tree, found.path, item)
                if flag is not None:
                    flags.append(flag)
    add_cli_args = _add_cli_args(module)
    for node in ast.walk(add_cli_args):
        if call_name(node) == "add_argument":
            names = tuple(n for n in constant_strings(node.args) if n.startswith("-"))
            if names:
                takes = _action_takes(tree, keyword(node, "action"), keyword(node, "nargs"))
                flags.append(_flag(names, takes or "value", SERVER_ARGS, node.lineno))
    return flags


def _input_namespaces(module: ast.Module) -> list[str]:
    for node in module.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_INPUT_NAMESPACES" for t in node.targets
        ):
            return [e.id for e in node.value.elts if isinstance(e, ast.Name)]
    raise LookupError("_INPUT_NAMESPACES")


def _add_cli_args(module: ast.Module) -> ast.FunctionDef:
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == "ServerArgs":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "add_cli_args":
                    return item
    raise LookupError("ServerArgs.add_cli_args")


def _field_flag(tree: SourceTree, path: str, field: ast.AnnAssign) -> FlagDef | None:
    annotation = field.annotation
    if subscript_head(annotation) not in ("A", "Annotated") or not isinstance(annotation.slice, ast.Tuple):
        return None
    inner, *metadata = annotation.slice.elts
    arg = next((m for m in metadata if call_name(m) == "Arg"), None)
    has_help = any(isinstance(m, ast.Constant) and isinstance(m.value, str) for m in metadata)
    if arg is None and not has_help:
        return None
    if arg is not None and _constant(keyword(arg, "no_cli")) is True:
        return None
    cli_name = _constant(keyword(arg, "cli_name")) if arg is not None else None
    names = [cli_name or "--" + field.target.id.replace("_", "-")]
    aliases = keyword(arg, "aliases") if arg is not None else None
    if isinstance(aliases, ast.List):
        names += constant_strings(aliases.elts)
    takes = _field_takes(tree, inner, arg)
    return _flag(tuple(names), takes, path, field.lineno)


def _field_takes(tree: SourceTree, inner: ast.expr, arg: ast.Call | None) -> str:
    nargs = keyword(arg, "nargs") if arg is not None else None
    if arg is not None and keyword(arg, "action") is not None:
        action_nargs = None
        extra = keyword(arg, "action_kwargs")
        if isinstance(extra, ast.Dict):
            for key, value in zip(extra.keys, extra.values):
                if isinstance(key, ast.Constant) and key.value == "nargs":
                    action_nargs = value
        return _action_takes(tree, keyword(arg, "action"), action_nargs) or "value"
    inner = _unwrap_optional(inner)
    head = subscript_head(inner) if isinstance(inner, ast.Subscript) else None
    if head == "Literal":
        return "value"
    has_parser = arg is not None and keyword(arg, "type_parser") is not None
    if head in ("list", "List") and not has_parser:
        return takes_from_nargs(nargs) or "list"
    if isinstance(inner, ast.Name) and inner.id == "bool":
        return "none"
    return takes_from_nargs(nargs) or "value"


def _unwrap_optional(expr: ast.expr) -> ast.expr:
    """``Optional[X]`` / ``X | None`` -> X when exactly one member is not None."""
    members: list[ast.expr] = []
    if isinstance(expr, ast.Subscript) and subscript_head(expr) == "Optional":
        members = [expr.slice, ast.Constant(None)]
    elif isinstance(expr, ast.Subscript) and subscript_head(expr) == "Union" and isinstance(expr.slice, ast.Tuple):
        members = list(expr.slice.elts)
    elif isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
        members = [expr.left, expr.right]
    rest = [m for m in members if not (isinstance(m, ast.Constant) and m.value is None)]
    return rest[0] if members and len(rest) == 1 else expr


def _action_takes(tree: SourceTree, action: ast.expr | None, nargs: ast.expr | None) -> str | None:
    if action is None:
        return takes_from_nargs(nargs)
    if is_boolean_optional(action):
        return "switch"
    by_name = takes_from_action(action)
    if by_name is not None:
        return takes_from_nargs(nargs) or by_name
    if nargs is not None:
        return takes_from_nargs(nargs)
    if isinstance(action, ast.Name):
        found = tree.find_class(SERVER_ARGS, action.id)
        if found is not None:
            return takes_from_nargs(_init_default(found.node, "nargs")) or "value"
    return "value"


def _init_default(cls: ast.ClassDef, name: str) -> ast.expr | None:
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            args = item.args
            positional = args.args[len(args.args) - len(args.defaults):]
            for arg, default in list(zip(positional, args.defaults)) + list(zip(args.kwonlyargs, args.kw_defaults)):
                if arg.arg == name:
                    return default
    return None


def _constant(node: ast.expr | None):
    return node.value if isinstance(node, ast.Constant) else None


def _flag(names: tuple[str, ...], takes: str, path: str, line: int) -> FlagDef:
    if takes != "switch":
        return FlagDef(names, takes, path, line)
    negations = tuple("--no-" + n[2:] for n in names if n.startswith("--"))
    return FlagDef(names, "none", path, line, negations)
