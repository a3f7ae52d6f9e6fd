"""Facts read out of Python source without running it: module-level dict literals and single statements.

The serving engines' registries are plain Python (``_VLLM_MODELS = {**_TEXT_GENERATION_MODELS, …}``,
transformers' ``CONFIG_MAPPING_NAMES = OrderedDict([...])``, SGLang's ``EntryClass = [...]``).
Importing those packages would run them; `DictReader` evaluates just the dict literals with `ast`,
and `statement_at` parses one top-level statement of a large module without parsing the rest.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

Mapping = dict[str, object]  # a dict literal read from source: key -> its literal value (None if not literal)
_MUTATORS = frozenset({"update", "pop", "popitem", "setdefault", "clear", "__setitem__", "__delitem__"})


def line_starts(text: str, prefix: str) -> Iterator[int]:
    """Offsets of the lines that begin with ``prefix`` at column 0 (top-level statements)."""
    if text.startswith(prefix):
        yield 0
    offset = text.find("\n" + prefix)
    while offset >= 0:
        yield offset + 1
        offset = text.find("\n" + prefix, offset + 1)


def statement_at(text: str, offset: int, longest: int = 400) -> ast.stmt | None:
    """The statement that starts at ``text[offset]``: the shortest run of whole lines that parses."""
    end = offset
    for _ in range(longest):
        end = text.find("\n", end + 1)
        chunk = text[offset:] if end < 0 else text[offset:end]
        try:
            body = ast.parse(chunk).body
        except SyntaxError:
            if end < 0:
                return None
            continue
        return body[0] if body else None
    return None


def import_aliases(text: str) -> dict[str, str]:
    """``{alias: imported name}`` of the module's top-level ``import … as …`` statements."""
    aliases: dict[str, str] = {}
    for offset in [*line_starts(text, "from "), *line_starts(text, "import ")]:
        statement = statement_at(text, offset)
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            aliases.update({a.asname: a.name.rsplit(".", 1)[-1] for a in statement.names if a.asname})
    return aliases


class DictReader:
    """Reads module-level dict literals out of Python source, following imports within the same tree.

    Understood: ``X = {…}`` with ``**Y`` spreads, ``OrderedDict([(k, v), …])`` / ``dict(…)`` /
    ``OrderedDict[str, str](…)`` with ``**Y`` keywords, ``X | Y``, ``X.update(…)``, ``X[k] = v``,
    and ``from .mod import X``. A dict comprehension over ``Y.items()`` keyed by ``Y``'s own keys
    yields all of ``Y``'s keys (a superset: its filter is not evaluated). Any other statement that
    rebinds or mutates ``X`` makes ``X`` unknown (None), never silently partial.
    """

    def __init__(self, root: Path):
        self.root = root  # the site-packages-like directory holding the top-level package
        self._modules: dict[Path, dict] = {}  # each file's names once evaluated

    def mapping(self, path: Path, name: str, depth: int = 0) -> Mapping | None:
        if depth > 8 or not path.is_file():
            return None
        if path not in self._modules:
            env: dict[str, Mapping | None | tuple[Path, str]] = {}
            for statement in _parsed(path).body:
                self._apply(statement, env, path, depth)
            self._modules[path] = env
        return self._lookup(self._modules[path], name, depth)

    def _lookup(self, env: dict, name: str, depth: int) -> Mapping | None:
        value = env.get(name)
        if isinstance(value, tuple):  # an import, resolved on first use
            value = env[name] = self.mapping(value[0], value[1], depth + 1)
        return dict(value) if isinstance(value, dict) else None

    def _apply(self, node: ast.stmt, env: dict, path: Path, depth: int) -> None:
        if isinstance(node, ast.ImportFrom):
            target = self._module_file(node, path)
            for alias in node.names:
                env[alias.asname or alias.name] = (target, alias.name) if target else None
            return
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name):
                env[targets[0].id] = self._value(node.value, env, depth)
                return
            if len(targets) == 1 and self._set_item(targets[0], node.value, env, depth):
                return
        if isinstance(node, ast.Expr) and self._update(node.value, env, depth):
            return
        for name in _mutated_names(node, env):
            env[name] = None

    def _set_item(self, target: ast.expr, value: ast.expr, env: dict, depth: int) -> bool:
        if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                and isinstance(target.slice, ast.Constant) and isinstance(target.slice.value, str)):
            return False
        current = self._lookup(env, target.value.id, depth)
        env[target.value.id] = None if current is None else {**current, target.slice.value: _literal(value)}
        return True

    def _update(self, call: ast.expr, env: dict, depth: int) -> bool:
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr == "update" and isinstance(call.func.value, ast.Name)):
            return False
        name = call.func.value.id
        current = self._lookup(env, name, depth)
        added = self._call_items(call, env, depth)
        env[name] = None if current is None or added is None else {**current, **added}
        return True

    def _value(self, node: ast.expr, env: dict, depth: int) -> Mapping | None:
        if isinstance(node, ast.Name):
            return self._lookup(env, node.id, depth)
        if isinstance(node, ast.Dict):
            result: Mapping = {}
            for key, value in zip(node.keys, node.values):
                if key is None:
                    spread = self._value(value, env, depth)
                    if spread is None:
                        return None
                    result.update(spread)
                elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                    result[key.value] = _literal(value)
                else:
                    return None
            return result
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            left, right = self._value(node.left, env, depth), self._value(node.right, env, depth)
            return None if left is None or right is None else {**left, **right}
        if isinstance(node, ast.DictComp):
            return self._comprehension_keys(node, env, depth)
        if isinstance(node, ast.Call) and _constructor(node.func) in ("OrderedDict", "dict"):
            return self._call_items(node, env, depth)
        return None

    def _call_items(self, call: ast.Call, env: dict, depth: int) -> Mapping | None:
        """The items a ``dict(…)``/``OrderedDict(…)``/``.update(…)`` call adds."""
        if len(call.args) > 1:
            return None
        result: Mapping = {}
        for arg in call.args:
            items = _pairs(arg) if isinstance(arg, (ast.List, ast.Tuple)) else self._value(arg, env, depth)
            if items is None:
                return None
            result.update(items)
        for keyword in call.keywords:
            if keyword.arg is not None:
                result[keyword.arg] = _literal(keyword.value)
                continue
            spread = self._value(keyword.value, env, depth)
            if spread is None:
                return None
            result.update(spread)
        return result

    def _comprehension_keys(self, node: ast.DictComp, env: dict, depth: int) -> Mapping | None:
        if len(node.generators) != 1 or not isinstance(node.key, ast.Name):
            return None
        generator = node.generators[0]
        source, target = generator.iter, generator.target
        if isinstance(source, ast.Call) and isinstance(source.func, ast.Attribute) and not source.args \
                and source.func.attr in ("items", "keys"):
            key_target = target.elts[0] if source.func.attr == "items" and isinstance(target, ast.Tuple) else target
            source = source.func.value
        else:
            key_target = target
        if not (isinstance(key_target, ast.Name) and key_target.id == node.key.id):
            return None
        keys = self._value(source, env, depth)
        return None if keys is None else dict.fromkeys(keys)

    def _module_file(self, node: ast.ImportFrom, path: Path) -> Path | None:
        """The file of ``from <module> import …``: relative, or absolute within ``root``."""
        base = path.parent
        for _ in range(max(node.level - 1, 0)):
            base = base.parent
        if node.level == 0:
            base = self.root
        parts = (node.module or "").split(".") if node.module else []
        stem = base.joinpath(*parts) if parts else base
        for candidate in (stem.with_suffix(".py") if parts else None, stem / "__init__.py"):
            if candidate is not None and candidate.is_file():
                return candidate
        return None


def _mutated_names(node: ast.stmt, env: dict) -> set[str]:
    """Tracked names this (unhandled) statement rebinds, mutates or deletes."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name} & env.keys()
    touched: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            touched.add(sub.id)
        elif isinstance(sub, ast.Subscript) and isinstance(sub.ctx, (ast.Store, ast.Del)) \
                and isinstance(sub.value, ast.Name):
            touched.add(sub.value.id)
        elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) \
                and sub.func.attr in _MUTATORS and isinstance(sub.func.value, ast.Name):
            touched.add(sub.func.value.id)
    return touched & env.keys()


def _constructor(func: ast.expr) -> str | None:
    """``OrderedDict``, ``collections.OrderedDict``, ``OrderedDict[str, str]`` -> ``OrderedDict``."""
    if isinstance(func, ast.Subscript):
        func = func.value
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _pairs(node: ast.List | ast.Tuple) -> Mapping | None:
    result: Mapping = {}
    for item in node.elts:
        if not (isinstance(item, (ast.Tuple, ast.List)) and len(item.elts) == 2
                and isinstance(item.elts[0], ast.Constant) and isinstance(item.elts[0].value, str)):
            return None
        result[item.elts[0].value] = _literal(item.elts[1])
    return result


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _parsed(path: Path) -> ast.Module:
    stat = path.stat()
    return _parse_cached(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _parse_cached(path: str, _mtime_ns: int, _size: int) -> ast.Module:
    return ast.parse(Path(path).read_text(encoding="utf-8"), path)

