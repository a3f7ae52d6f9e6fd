"""What is installed, read from real files: the transformers of this venv, and real vLLM, SGLang and
transformers 4 sources laid out as a site-packages (tests/corpus/serving/installed/, origins there)."""

from __future__ import annotations

import ast
import shutil
from collections import OrderedDict
from pathlib import Path

import pytest
from packaging.markers import Marker

from wfgy_rules.providers.serving import installed

CORPUS = Path(__file__).parents[2] / "corpus" / "serving" / "installed"


def site(tmp_path: Path, *dists: str) -> Path:
    """A site-packages holding the corpus distributions named (their files at their wheel paths)."""
    root = tmp_path / "site-packages"
    root.mkdir(exist_ok=True)
    for dist in dists:
        shutil.copytree(CORPUS / dist, root, dirs_exist_ok=True)
        package = dist.split("-")[0]
        (root / package / "__init__.py").touch()
    return root


def fake_dist(root: Path, name: str, version: str, requires: list[str] = (), entry_points: str = "") -> None:
    """An installed distribution: its dist-info, as pip writes one."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if entry_points:
        (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")


def executed_dict(source: Path, name: str) -> dict:
    """The oracle: run the file's own module-level ``*_MODELS``/``*_NAMES`` dict statements, in order."""
    namespace: dict = {"OrderedDict": OrderedDict}
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        targets = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        if targets and targets[0].endswith(("_MODELS", "_NAMES")):
            exec(compile(ast.Module([node], []), str(source), "exec"), namespace)  # a dict literal of the real file
    return namespace[name]


# --- transformers ---------------------------------------------------------------------------------

def test_the_installed_transformers_model_types_are_its_own_registry():
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    found = installed.transformers_model_types()
    assert found["version"] == transformers.__version__
    assert found["model_types"] == sorted(CONFIG_MAPPING_NAMES)
    assert {"qwen3", "llama", "gpt-sw3"} <= set(found["model_types"])
    assert found["source"].endswith("transformers/models/auto/configuration_auto.py")


def test_transformers_4_keeps_its_registry_in_configuration_auto(tmp_path):
    root = site(tmp_path, "transformers-4.57.1")
    found = installed.transformers_model_types(root)
    source = root / "transformers" / "models" / "auto" / "configuration_auto.py"
    assert found["version"] == "4.57.1"
    assert found["model_types"] == sorted(executed_dict(source, "CONFIG_MAPPING_NAMES"))
    assert {"qwen3", "llama", "mistral"} <= set(found["model_types"])
    assert "qwen3_5" not in found["model_types"]  # 4.57.1 predates Qwen3.5


@pytest.mark.parametrize(("module", "expected"), [
    ('NAMES = OrderedDict([("a", "A")])\nNAMES["b"] = "B"\n', ["a", "b"]),
    ('NAMES = {"a": "A"}\nNAMES.update(b="B", **{"c": "C"})\n', ["a", "b", "c"]),
    ('BASE = {"a": "A"}\nNAMES = dict(BASE) | {"b": "B"}\n', ["a", "b"]),
    ('NAMES = {"a": "A"}\nNAMES.update(extra())\n', None),       # not readable: unknown, never partial
    ('NAMES = {"a": "A"}\nfor k in ("b",):\n    NAMES[k] = k\n', None),
    ('NAMES = {"a": "A"}\nNAMES.pop("a")\n', None),
    ('NAMES = load_names()\n', None),
])
def test_a_registry_is_read_whole_or_not_at_all(tmp_path, module, expected):
    auto = tmp_path / "transformers" / "models" / "auto"
    auto.mkdir(parents=True)
    (tmp_path / "transformers" / "__init__.py").touch()
    (auto / "configuration_auto.py").write_text(
        "from collections import OrderedDict\nfrom .mappings import NAMES as CONFIG_MAPPING_NAMES\n", encoding="utf-8")
    (auto / "mappings.py").write_text(module, encoding="utf-8")
    assert installed.transformers_model_types(tmp_path)["model_types"] == expected


def test_no_transformers_installed(tmp_path):
    assert installed.transformers_model_types(tmp_path) is None


# --- engines --------------------------------------------------------------------------------------

def test_vllm_lists_what_its_registry_lists(tmp_path):
    root = site(tmp_path, "vllm-0.34.0")
    found = installed.engine_architectures("vllm", root)
    registry = root / "vllm" / "model_executor" / "models" / "registry.py"
    assert found["engine"] == "vllm" and found["version"] == "0.34.0"
    assert found["architectures"] == sorted(executed_dict(registry, "_VLLM_MODELS"))
    assert {"Gemma3ForCausalLM", "LlamaForCausalLM", "Qwen3ForCausalLM", "TransformersForCausalLM"} <= set(
        found["architectures"])
    assert "EmbeddingGemmaModel" not in found["architectures"]  # SGLang 0.5.23 serves it, vLLM 0.34.0 does not
    assert "MPTForCausalLM" not in found["architectures"]
    assert found["removed"]["MPTForCausalLM"] == "0.28.0"
    assert found["plugins"] == []


def test_a_vllm_plugin_may_register_more_architectures(tmp_path):
    root = site(tmp_path, "vllm-0.34.0")
    fake_dist(root, "my-arch-plugin", "1.0", entry_points="[vllm.general_plugins]\nmy_arch = my_arch:register\n")
    assert installed.engine_architectures("vllm", root)["plugins"] == ["my_arch"]


def test_sglang_registers_each_models_module_entry_class(tmp_path):
    found = installed.engine_architectures("sglang", site(tmp_path, "sglang-0.5.23"))
    assert found["version"] == "0.5.23"
    assert found["architectures"] == sorted([
        "LlamaForCausalLM", "Phi3ForCausalLM", "InternLM3ForCausalLM", "IQuestCoderForCausalLM",  # llama.py
        "Qwen3ForCausalLM",  # qwen3.py
        "Gemma3ForCausalLM", "EmbeddingGemmaModel",  # gemma3_causal.py
        "Dots3NoteForCausalLM",  # dots3.py, imported from dots3_common
    ])  # nemotron_h_utils.py has no EntryClass


@pytest.mark.parametrize(("module", "expected"), [
    ("from pkg.impl import RealName as Alias\n\nEntryClass = [Alias]\n", ["RealName"]),
    ("class A:\n    pass\n\n\nEntryClass = A\nEntryClass = [A, B]\n", ["A", "B"]),  # the last assignment
    ("def build():\n    EntryClass = [X]\n", []),  # not top level: never registered
    ("EntryClass = make_entries()\n", None),
])
def test_sglang_entry_classes(tmp_path, module, expected):
    models = tmp_path / "sglang" / "srt" / "models"
    models.mkdir(parents=True)
    (tmp_path / "sglang" / "__init__.py").touch()
    (models / "model.py").write_text(module, encoding="utf-8")
    assert installed.engine_architectures("sglang", tmp_path)["architectures"] == expected


def test_engines_not_installed_and_unknown_engines(tmp_path):
    assert installed.engine_architectures("vllm", tmp_path) is None
    assert installed.engine_architectures("sglang", tmp_path) is None
    with pytest.raises(ValueError, match="unknown engine 'tgi'"):
        installed.engine_architectures("tgi", tmp_path)


# --- requirements ---------------------------------------------------------------------------------

def test_requirements_checked_for_this_interpreter_without_extras(tmp_path):
    root = tmp_path / "site-packages"
    fake_dist(root, "serving-engine", "1.0", requires=[
        "torch==2.14.0", "transformers<5.23.0,>=5.16.1", "numpy", "huggingface_hub>=2.0.0",
        'six>=1.16.0; python_version > "3.11"', 'zentorch==2.14.0.2; extra == "zen"', "missing-kernels>=1",
    ])
    fake_dist(root, "torch", "2.13.1+cu128")
    fake_dist(root, "transformers", "5.20.0")
    fake_dist(root, "numpy", "2.3.0")
    fake_dist(root, "huggingface-hub", "2.1.0")
    found = installed.unsatisfied_requirements("serving-engine", root)
    newer_python = Marker('python_version > "3.11"').evaluate()
    assert found["distribution"] == "serving-engine" and found["version"] == "1.0"
    assert found["checked"] == (6 if newer_python else 5)
    assert found["unsatisfied"] == [
        {"name": "torch", "specifier": "==2.14.0", "installed": "2.13.1+cu128"},
        *([{"name": "six", "specifier": ">=1.16.0", "installed": None}] if newer_python else []),
        {"name": "missing-kernels", "specifier": ">=1", "installed": None},
    ]


def test_a_local_build_of_the_pinned_torch_satisfies_the_pin(tmp_path):
    root = tmp_path / "site-packages"
    fake_dist(root, "serving-engine", "1.0", requires=["torch==2.14.0", "triton>=3.5"])
    fake_dist(root, "torch", "2.14.0+cu130")
    fake_dist(root, "triton", "3.6.0rc1")  # pip counts an installed pre-release as satisfying
    assert installed.unsatisfied_requirements("serving-engine", root)["unsatisfied"] == []


def test_the_real_vllm_metadata_catches_a_torch_it_does_not_pin(tmp_path):
    root = site(tmp_path, "vllm-0.34.0")
    fake_dist(root, "torch", "2.13.1")
    found = installed.unsatisfied_requirements("vllm", root)
    by_name = {u["name"]: u for u in found["unsatisfied"]}
    assert found["version"] == "0.34.0"
    assert by_name["torch"] == {"name": "torch", "specifier": "==2.14.0", "installed": "2.13.1"}
    assert "zentorch" not in by_name  # extra == "zen"
    assert ("six" in by_name) == Marker('python_version > "3.11"').evaluate()


def test_requirements_of_a_distribution_not_installed(tmp_path):
    assert installed.unsatisfied_requirements("vllm", tmp_path) is None


def test_transformers_knows_agrees_with_transformers_own_registry():
    """The text search of the fast path and the parsed mapping give transformers' own answer."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    known = sorted(CONFIG_MAPPING_NAMES)
    for model_type in known[::7] + ["wfgy_future_lm", "internlm2", "llama_", "Llama"]:
        assert installed.transformers_knows(model_type)["knows"] is (model_type in CONFIG_MAPPING_NAMES), model_type
