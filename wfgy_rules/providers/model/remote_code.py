"""The Python files ``--trust-remote-code`` would run for a model directory.

A model whose config.json (or tokenizer_config.json) has an ``auto_map`` ships its own model or
tokenizer code; transformers imports it only with ``trust_remote_code=True``. Each value names
a module and a class, ``"modeling_deepseek.DeepseekV3ForCausalLM"``, or a class in another
repository, ``"org/repo--modeling_x.XModel"``; a tokenizer entry is a list ``[slow, fast]``
whose members may be null. The module ``modeling_deepseek`` is the file ``modeling_deepseek.py``
of the model directory (of ``org/repo`` for the ``--`` form, fetched from the hub at load time),
and transformers also loads the files it imports relatively (``from .configuration_x import …``),
so those are followed too, transitively, within the directory.

``remote_code_files(path, config, tokenizer_config)`` lists them, sorted by name::

    - {name: configuration_deepseek.py, sha256: 3c5b…, present: true, repo: null}
    - {name: modeling_deepseek.py, sha256: 9a41…, present: true, repo: null}
    - {name: modeling_x.py, sha256: null, present: false, repo: org/repo}

A module name that is not a plain file name (``../x``, ``a/b``) is left out: transformers
would not load it either. ``sha256`` is that of the file's bytes (null when it is not in the directory): exactly what
``--trust-remote-code`` would execute, for an auditor to pin.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from wfgy_rules.providers.model.model_files import read_bytes

# transformers' dynamic_module_utils.get_relative_imports: `import .x` and `from .x import …`.
RELATIVE_IMPORT = re.compile(rb"^\s*(?:import\s+\.(\w+)\s*$|from\s+\.(\w+)\s+import)", re.MULTILINE)
# A module name is a file name in the directory, never a path: "../x" or "a/b" is not followed.
MODULE_NAME = re.compile(r"[\w-]+")


def remote_code_files(path: Path, config: Mapping[str, Any] | None,
                      tokenizer_config: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The ``.py`` files the ``auto_map`` entries name, and what they import relatively (module docstring)."""
    entries: dict[str, dict[str, Any]] = {}
    pending = []
    for repo, module in _modules(config, tokenizer_config):
        name = f"{module}.py"
        if name not in entries:
            entries[name] = {"name": name, "sha256": None, "present": False, "repo": repo}
            if repo is None:
                pending.append(name)
    while pending:
        name = pending.pop()
        data = read_bytes(path / name)
        if data is None:
            continue
        entries[name].update(sha256=hashlib.sha256(data).hexdigest(), present=True)
        for match in RELATIVE_IMPORT.finditer(data):
            imported = f"{(match.group(1) or match.group(2)).decode()}.py"
            if imported not in entries:
                entries[imported] = {"name": imported, "sha256": None, "present": False, "repo": None}
                pending.append(imported)
    return [entries[name] for name in sorted(entries)]


def _modules(*configs: Mapping[str, Any] | None) -> Iterator[tuple[str | None, str]]:
    for config in configs:
        auto_map = config.get("auto_map") if config is not None else None
        if not isinstance(auto_map, Mapping):
            continue
        for value in auto_map.values():
            for reference in value if isinstance(value, list) else [value]:
                if isinstance(reference, str) and "." in reference:
                    repo, _, qualified = reference.rpartition("--")
                    module = qualified.rsplit(".", 1)[0]
                    if MODULE_NAME.fullmatch(module):
                        yield repo or None, module
