"""Every option ``vllm serve`` accepts, read from vLLM's source with `ast` (never imported).

vLLM builds its parser in ``EngineArgs.add_cli_args`` (vllm/engine/arg_utils.py) and
``make_arg_parser`` (vllm/entrypoints/common/cli_args.py). Most options pass
``**get_kwargs(SomeConfig)["field"]``: their arity follows from the field's type annotation
the way ``_compute_kwargs`` decides it (a bool field becomes a ``--x/--no-x`` switch, a list
field takes several words, ``bool | str | None`` an optional word, anything else one word),
then from the edits the function makes to those kwargs (``del kw["f"]["nargs"]``) and from
explicit ``action=``/``nargs=`` keywords. ``FlexibleArgumentParser`` registers its
``EnableDisableAction`` for ``BooleanOptionalAction``, so ``--enable-x`` is also turned off by
``--disable-x`` (and the reverse).
"""

from __future__ import annotations

import ast

from tests.providers.serving.argdefs import (
    FlagDef,
    annotation_kinds,
    class_fields,
    is_boolean_optional,
    takes_from_action,
    takes_from_nargs,
)
from tests.providers.serving.pysource import SourceTree, call_name, constant_strings, keyword

ARG_UTILS = "vllm/engine/arg_utils.py"
CLI_ARGS = "vllm/entrypoints/common/cli_args.py"


def vllm_flags(tree: SourceTree) -> list[FlagDef]:
    """All options of ``vllm serve`` / the OpenAI api_server entry point."""
    flags: list[FlagDef] = []
    for cls in ("EngineArgs", "AsyncEngineArgs"):
        method = _method(tree.module(ARG_UTILS), cls, "add_cli_args")
        flags.extend(_flags_of_function(tree, ARG_UTILS, method))
    make_arg_parser = _function(tree.module(CLI_ARGS), "make_arg_parser")
    flags.extend(_flags_of_function(tree, CLI_ARGS, make_arg_parser))
    for node in ast.walk(make_arg_parser):
        if call_name(node) == "add_cli_args" and isinstance(node.func.value, ast.Name):
            found = tree.find_class(CLI_ARGS, node.func.value.id)
            if found is not None and found.node.name != "AsyncEngineArgs":
                flags.extend(_frontend_flags(tree, found.path, found.node))
    return flags


def _method(module: ast.Module, cls: str, name: str) -> ast.FunctionDef:
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return _function(node, name)
    raise LookupError(f"{cls}.{name}")


def _function(scope, name: str) -> ast.FunctionDef:
    for node in scope.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise LookupError(name)


def _flags_of_function(tree: SourceTree, path: str, function: ast.FunctionDef) -> list[FlagDef]:
    bindings = _kwargs_bindings(tree, path, function)
    edits = _kwargs_edits(function)
    flags = []
    for node in ast.walk(function):
        if call_name(node) != "add_argument":
            continue
        names = tuple(n for n in constant_strings(node.args) if n.startswith("-"))
        if not names:
            continue  # a positional (model_tag)
        takes = "value"
        source = _kwargs_source(node)
        if source is not None and source[0] in bindings:
            cls_path, cls, bound_field = bindings[source[0]]
            field = bound_field or source[1]
            takes = _field_takes(tree, cls_path, cls, field)
            takes = _apply_edits(takes, edits.get((source[0], source[1] if not bound_field else None), {}))
        takes = _explicit(node, takes)
        flags.append(_flag(names, takes, path, node.lineno))
    return flags


def _frontend_flags(tree: SourceTree, path: str, cls: ast.ClassDef) -> list[FlagDef]:
    """``BaseFrontendArgs.add_cli_args``: one ``--field-name`` per field, after the class's
    ``_customize_cli_kwargs`` edits (its own and its bases')."""
    edits: dict = {}
    for scope_path, scope in _mro(tree, path, cls):
        for item in scope.body:
            if isinstance(item, ast.FunctionDef) and item.name == "_customize_cli_kwargs":
                for (var, field), change in _kwargs_edits(item).items():
                    merged = edits.setdefault(field, {"del": set(), "set": {}})
                    merged["del"] |= change["del"]
                    merged["set"].update(change["set"])
    flags = []
    for field_path, field in class_fields(tree, path, cls):
        name = field.target.id
        takes = _takes_for_kinds(annotation_kinds(tree, field_path, field.annotation))
        change = edits.get(name, {"del": set(), "set": {}})
        takes = _apply_edits(takes, change)
        extra = change["set"].get("flags")
        names = tuple(constant_strings(extra.elts)) if isinstance(extra, ast.List) else ()
        flags.append(_flag(names + ("--" + name.replace("_", "-"),), takes, field_path, field.lineno))
    return flags


def _mro(tree: SourceTree, path: str, cls: ast.ClassDef):
    yield path, cls
    for base in cls.bases:
        if isinstance(base, ast.Name):
            found = tree.find_class(path, base.id)
            if found is not None:
                yield from _mro(tree, found.path, found.node)


def _kwargs_bindings(tree: SourceTree, path: str, function: ast.FunctionDef) -> dict:
    """``model_kwargs = get_kwargs(ModelConfig)`` -> {"model_kwargs": (file, ClassDef, None)};
    ``x = get_kwargs(VllmConfig)["logging_config"]`` binds one field."""
    bindings = {}
    for node in ast.walk(function):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        value, field = node.value, None
        if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Constant):
            value, field = value.value, value.slice.value
        if call_name(value) == "get_kwargs" and value.args and isinstance(value.args[0], ast.Name):
            found = tree.find_class(path, value.args[0].id)
            if found is not None:
                bindings[node.targets[0].id] = (found.path, found.node, field)
    return bindings


def _kwargs_source(call: ast.Call) -> tuple[str, str | None] | None:
    """The ``**model_kwargs["dtype"]`` (or ``**{**kw["f"], ...}``) a call unpacks."""
    for item in call.keywords:
        if item.arg is not None:
            continue
        value = item.value
        if isinstance(value, ast.Dict):
            unpacked = [v for k, v in zip(value.keys, value.values) if k is None]
            value = unpacked[0] if unpacked else value
        if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
            if isinstance(value.slice, ast.Constant):
                return value.value.id, value.slice.value
        if isinstance(value, ast.Name):
            return value.id, None
    return None


def _kwargs_edits(function: ast.FunctionDef) -> dict:
    """Edits like ``del kw["f"]["nargs"]`` and ``kw["f"]["action"] = "append"``, by (var, field)."""
    edits: dict = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Delete):
            targets, value = node.targets, None
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        else:
            continue
        for target in targets:
            chain = _subscript_chain(target)
            if chain is None or len(chain[1]) not in (1, 2):
                continue
            var, keys = chain
            field, key = (keys[0], keys[1]) if len(keys) == 2 else (None, keys[0])
            change = edits.setdefault((var, field), {"del": set(), "set": {}})
            if value is None:
                change["del"].add(key)
            else:
                change["set"][key] = value
    return edits


def _subscript_chain(node: ast.expr) -> tuple[str, list[str]] | None:
    keys = []
    while isinstance(node, ast.Subscript):
        if not (isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
            return None
        keys.insert(0, node.slice.value)
        node = node.value
    return (node.id, keys) if isinstance(node, ast.Name) and keys else None


def _field_takes(tree: SourceTree, path: str, cls: ast.ClassDef, field: str) -> str:
    for field_path, item in class_fields(tree, path, cls):
        if item.target.id == field:
            return _takes_for_kinds(annotation_kinds(tree, field_path, item.annotation))
    raise LookupError(f"{cls.name}.{field}")


def _takes_for_kinds(kinds: set[str]) -> str:
    """``_compute_kwargs``'s order: dataclass, bool|str|None, bool, Literal, collections."""
    if "dataclass" in kinds:
        return "value"
    if kinds == {"bool", "str", "none"}:
        return "optional"
    if "bool" in kinds:
        return "switch"
    if "literal" in kinds:
        return "value"
    if "list" in kinds:
        return "list"
    return "value"


def _apply_edits(takes: str, change: dict) -> str:
    if "action" in change.get("set", {}):
        takes = takes_from_action(change["set"]["action"]) or takes
    if "nargs" in change.get("set", {}):
        takes = takes_from_nargs(change["set"]["nargs"]) or takes
    if "nargs" in change.get("del", set()) and takes in ("list", "optional"):
        takes = "value"
    return takes


def _explicit(call: ast.Call, takes: str) -> str:
    action = keyword(call, "action")
    if is_boolean_optional(action):
        return "switch"
    takes = takes_from_action(action) or takes
    return takes_from_nargs(keyword(call, "nargs")) or takes


def _flag(names: tuple[str, ...], takes: str, path: str, line: int) -> FlagDef:
    if takes != "switch":
        return FlagDef(names, takes, path, line)
    negations = []
    for name in names:
        if name.startswith("--"):
            negations.append("--no-" + name[2:])
            for prefix, inverse in (("--enable-", "--disable-"), ("--disable-", "--enable-")):
                if name.startswith(prefix):
                    negations.append(inverse + name[len(prefix):])
    return FlagDef(names, "none", path, line, tuple(negations))
