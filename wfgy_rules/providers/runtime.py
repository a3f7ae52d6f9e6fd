"""``runtime``: what is really installed, and what the model directory really holds.

Nothing heavy is imported or loaded: package versions come from installed metadata, torch's
CUDA and git revision from its ``torch/version.py`` read as text (parsed, never imported); the model directory is read by
`wfgy_rules.providers.model.hfmodel` (JSON as text, tensor shapes from the safetensors header).

Config (``providers.runtime`` in ``wfgy.yaml``)::

    providers:
      runtime:
        packages: [torch, transformers, tokenizers, accelerate]   # default: torch, transformers, tokenizers
        model_dir: ./model            # a Hugging Face model directory, relative to wfgy.yaml

The serving engines (vLLM ``vllm``, SGLang ``sglang``, TGI's ``text-generation-server``) are
always looked up too, after the configured packages: ``wfgy-rules lock`` records the one
installed, and the SemVers Diff rules compare it.

Facts (``runtime.*``)::

    python: "3.11.7"
    packages: {torch: 2.3.1+cu121, transformers: 4.44.2, tokenizers: 0.19.1, vllm: 0.6.3, sglang: null,
               text-generation-server: null}   # null: not installed
    cuda: {compiled: "12.1", source: torch}   # source: torch | CUDA_VERSION | version.json | null
    torch_build:                      # torch/version.py of the torch `import torch` would load
      present: true                   # false, with nulls, when torch is not installed
      version: 2.3.1+cu121            # __version__
      git_version: d44533f9d073df13895333e70b66f81c513c1889   # the commit torch was built from; lock's pytorch_sha
    model_dir:
      present: true                   # false, with only `path` (null: not configured) and `error`
      path: ./model                   # as configured
      error: null                     # "model_dir ./models does not exist (relative to wfgy.yaml)"
      config: {present: true, vocab_size: 128256, eos_token_ids: [128001, 128009], …}
      tokenizer: {present: true, format: tokenizer.json, sha256: 9e7f02d…, vocab_size: 128256, chat_template: {sha256: …, …}, …}
      generation_config: {present: true, eos_token_ids: [128001, 128008, 128009], …}
      checkpoint: {present: true, sha256: 5c2e…, embedding_tensor: model.embed_tokens.weight, embedding_rows: 128256, …}

Every ``model_dir`` fact but ``present`` and ``path`` is documented, field by field, in
`wfgy_rules.providers.model.hfmodel`; what each fingerprint covers in
`wfgy_rules.providers.model.tokenizer_files` and `wfgy_rules.providers.model.checkpoint_files`.

CUDA is read from the first source that exists: torch's build (a CPU build says
``compiled: null, source: torch``), then the container's ``CUDA_VERSION``, then the toolkit's
``/usr/local/cuda/version.json``; only major.minor is kept (``12.2.2`` → ``12.2``).

A configured model directory that does not exist (a typo, an unmounted volume) or is not a
directory is ``present: false`` with ``error`` saying so; rule ``semvers.model-dir-found``
fails on it, while the package and CUDA facts stay usable. A file of the model directory that
cannot be read is reported in its own section's ``error`` (a JSON file that does not parse:
``…/model/config.json:3:18: invalid JSON: Expecting ',' delimiter``; a Git LFS pointer left in
place of the file: ``…/model/tokenizer.json is a Git LFS pointer: run `git lfs pull`, or mount
the real files``; a vocabulary file not of its format in ``tokenizer.error``; a safetensors
header in ``checkpoint.error``), and the other facts stay usable.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import platform
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.configured_paths import not_there
from wfgy_rules.providers.model.hfmodel import describe_model_dir

DEFAULT_PACKAGES = ("torch", "transformers", "tokenizers")
# The serving engines' distributions, always looked up (TGI's Python server is text-generation-server).
SERVING_ENGINES = ("vllm", "sglang", "text-generation-server")
CUDA_VERSION_JSON = Path("/usr/local/cuda/version.json")
_MAJOR_MINOR = re.compile(r"(\d+)\.(\d+)")

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "runtime provider",
    "description": "Installed package versions, the CUDA the runtime was built for, and a model directory.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "packages": {
            "title": "Packages",
            "description": "Distribution names whose installed versions become facts (null when not installed); vllm, sglang and text-generation-server are always added.",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "uniqueItems": True,
            "default": list(DEFAULT_PACKAGES),
        },
        "model_dir": {
            "title": "Model directory",
            "description": "A Hugging Face model directory (config.json, tokenizer.json, *.safetensors), relative to wfgy.yaml.",
            "type": "string",
            "minLength": 1,
        },
    },
}


class RuntimeProvider:
    """Facts about the effective runtime (see the module docstring)."""

    config_schema = CONFIG_SCHEMA

    def collect(self, config: Mapping[str, Any], ctx: ProviderContext) -> dict[str, Any]:
        return {
            "python": platform.python_version(),
            "packages": package_versions(looked_up(config.get("packages", DEFAULT_PACKAGES))),
            "cuda": compiled_cuda(ctx.environ),
            "torch_build": torch_build(),
            "model_dir": _model_dir_facts(config.get("model_dir"), ctx),
        }


def looked_up(packages: Iterable[str]) -> list[str]:
    """The configured packages, then the serving engines not among them."""
    packages = list(packages)
    return packages + [engine for engine in SERVING_ENGINES if engine not in packages]


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Each distribution's installed version, or None when it is not installed."""
    return {name: _installed_version(name) for name in names}


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def compiled_cuda(environ: Mapping[str, str]) -> dict[str, str | None]:
    """``{compiled, source}``: the CUDA version the runtime was built for, and where it was read."""
    torch_version_py = _torch_version_py()
    if torch_version_py is not None:
        return {"compiled": _major_minor(_assigned_constant(torch_version_py, "cuda")), "source": "torch"}
    from_env = _major_minor(environ.get("CUDA_VERSION"))
    if from_env is not None:
        return {"compiled": from_env, "source": "CUDA_VERSION"}
    from_toolkit = _toolkit_cuda(CUDA_VERSION_JSON)
    if from_toolkit is not None:
        return {"compiled": from_toolkit, "source": "version.json"}
    return {"compiled": None, "source": None}


def torch_build() -> dict[str, Any]:
    """``{present, version, git_version}`` of the installed torch, read from ``torch/version.py``.

    Two builds of one version (a nightly, a vendor rebuild, a cu121 vs cu124 wheel) can differ;
    the git revision tells them apart. A value that is not a string constant is null.
    """
    version_py = _torch_version_py()
    if version_py is None:
        return {"present": False, "version": None, "git_version": None}
    version, git_version = (_assigned_constant(version_py, name) for name in ("__version__", "git_version"))
    return {"present": True, "version": version if isinstance(version, str) else None,
            "git_version": git_version if isinstance(git_version, str) else None}


def _torch_version_py() -> Path | None:
    """The ``torch/version.py`` that ``import torch`` would load (found, never imported)."""
    spec = importlib.util.find_spec("torch")
    for location in (spec.submodule_search_locations or []) if spec else []:
        version_py = Path(location) / "version.py"
        if version_py.is_file():
            return version_py
    return None


def _assigned_constant(path: Path, name: str) -> object:
    """The constant assigned to ``name`` at the top level of a Python file (``cuda: str = '12.1'``)."""
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return node.value.value if isinstance(node.value, ast.Constant) else None
    return None


def _toolkit_cuda(path: Path) -> str | None:
    """``cuda.version`` of the toolkit's version.json; None when absent or unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cuda = doc.get("cuda") if isinstance(doc, dict) else None
    return _major_minor(cuda.get("version") if isinstance(cuda, dict) else None)


def _major_minor(version: object) -> str | None:
    """``12.6.20241114`` → ``12.6``; None for anything that does not start with major.minor."""
    match = _MAJOR_MINOR.match(version.strip()) if isinstance(version, str) else None
    return f"{match[1]}.{match[2]}" if match else None


def _model_dir_facts(configured: str | None, ctx: ProviderContext) -> dict[str, Any]:
    if configured is None:
        return {"present": False, "path": None, "error": None}
    path = ctx.resolve(configured)
    if not path.is_dir():
        problem = "is not a directory" if path.exists() else "does not exist"
        return {"present": False, "path": configured, "error": not_there("model_dir", configured, problem)}
    return {"present": True, "path": configured, "error": None, **describe_model_dir(path)}
