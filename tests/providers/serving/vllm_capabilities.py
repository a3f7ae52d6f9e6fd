"""vLLM's minimum compute capability per ``--quantization`` method, read from its source.

``get_quantization_config`` (vllm/model_executor/layers/quantization/__init__.py) maps each
method name to a config class through its ``method_to_config`` dict; the class's
``get_min_capability()`` returns the minimum as an int (75 = compute capability 7.5), which
``VllmConfig._get_quantization_config`` compares with the GPU's. A class without its own
method inherits its base's. Read with `ast`; classes are found through the function's own
relative imports (``from .auto_awq import AutoAWQConfig``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from tests.providers.serving.pysource import Definition, SourceTree

QUANT_INIT = "vllm/model_executor/layers/quantization/__init__.py"


@dataclass(frozen=True)
class MinCapability:
    method: str
    value: int
    cls: str
    path: str
    line: int


def quantization_min_capabilities(tree: SourceTree) -> dict[str, MinCapability]:
    function = next(
        node for node in tree.module(QUANT_INIT).body
        if isinstance(node, ast.FunctionDef) and node.name == "get_quantization_config"
    )
    imported = _imported_names(QUANT_INIT, function)
    found: dict[str, MinCapability] = {}
    for node in ast.walk(function):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if not (isinstance(target, ast.Name) and target.id == "method_to_config"):
                continue
            for key, value in zip(node.value.keys, node.value.values):
                if isinstance(key, ast.Constant) and isinstance(value, ast.Name):
                    definition = _class(tree, QUANT_INIT, value.id, imported)
                    minimum = _min_capability(tree, definition) if definition else None
                    if minimum is not None:
                        found[key.value] = MinCapability(key.value, *minimum)
    return found


def _imported_names(path: str, scope: ast.AST) -> dict[str, tuple[str, str]]:
    """``{local name: (dotted module, name there)}`` for the imports inside ``scope``."""
    names = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = (SourceTree.absolute(path, node), alias.name)
    return names


def _class(tree: SourceTree, path: str, name: str, imported: dict[str, tuple[str, str]]) -> Definition | None:
    if name in imported:
        module, original = imported[name]
        source = tree.module_path(module)
        return tree.find_class(source, original) if source else None
    return tree.find_class(path, name)


def _min_capability(tree: SourceTree, definition: Definition) -> tuple[int, str, str, int] | None:
    """(value, class, file, line of the ``return``) from the class or its nearest base."""
    cls = definition.node
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "get_min_capability":
            returns = [n for n in ast.walk(item) if isinstance(n, ast.Return)]
            if len(returns) == 1 and isinstance(returns[0].value, ast.Constant):
                return returns[0].value.value, cls.name, definition.path, returns[0].lineno
            return None
    for base in cls.bases:
        if isinstance(base, ast.Name):
            parent = tree.find_class(definition.path, base.id)
            if parent is not None:
                return _min_capability(tree, parent)
    return None
