"""engines.yaml and gpu_requirements.yaml against the engines' own source.

The source files are the real ones, unedited, kept under tests/corpus/serving/engines/
(scripts/refresh_engine_sources.py re-extracts them from the wheels). They are read with
`ast`, never imported. A flag spelled differently there, a changed arity, a moved line, a
quantization minimum that changed: each fails here. ``WFGY_ENGINE_WHEELS=1`` also downloads
the newest vLLM and SGLang wheels and checks that every flag the launch facts rely on is
still spelled the same there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.providers.serving.argdefs import as_rows
from tests.providers.serving.pysource import SourceTree
from tests.providers.serving.sglang_argdefs import sglang_flags
from tests.providers.serving.tgi_argdefs import MAIN_RS, tgi_args
from tests.providers.serving.vllm_argdefs import vllm_flags
from tests.providers.serving.vllm_capabilities import quantization_min_capabilities
from wfgy_rules.providers.serving import engine_tables
from wfgy_rules.providers.serving.engine_tables import TableError, engines, min_capability, requirements

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "corpus" / "serving" / "engines"
TABLES = {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in (engine_tables.ENGINES_PATH, engine_tables.REQUIREMENTS_PATH)}
ENGINES = TABLES["engines.yaml"]["engines"]
PYPI = re.compile(r"pypi:([\w.-]+)==([\w.+-]+) ([^\s:]+):(\d+)")
GITHUB_TGI = re.compile(r"github:huggingface/text-generation-inference ([^\s@]+)@([0-9a-f]{40}):(\d+)")
TGI_COMMIT = re.search(r"@([0-9a-f]{40})", ENGINES["tgi"]["read_from"]).group(1)
STRING = re.compile(r"""[rRbBuUfF]{0,2}(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def tree(dist: str, version: str) -> SourceTree:
    return SourceTree(CORPUS / f"{dist}-{version}", dist)


def test_the_shipped_tables_load():
    assert set(engines()) == {"vllm", "sglang", "tgi", "llama.cpp"}
    assert engines()["vllm"].defaults_from == "vllm 0.34.0"
    assert requirements()["versions"] == ["0.34.0", "0.11.0"]


@pytest.mark.parametrize("dist,read", [("vllm", vllm_flags), ("sglang", sglang_flags)])
def test_every_flag_row_is_what_the_engine_source_defines(dist, read):
    version = ENGINES[dist]["version"]
    assert ENGINES[dist]["read_from"] == f"pypi:{dist}=={version}"
    derived = as_rows(read(tree(dist, version)))
    tabled = ENGINES[dist]["flags"]
    missing = [r for r in derived if r not in tabled]
    extra = [r for r in tabled if r not in derived]
    assert not missing and not extra, f"{dist} {version}: not in the table {missing[:5]}; not in the source {extra[:5]}"


def test_tgi_flag_rows_and_env_names_are_the_launchers():
    text = (CORPUS / f"text-generation-inference-{TGI_COMMIT}" / MAIN_RS).read_text(encoding="utf-8")
    args = tgi_args(text)
    assert as_rows([a.flag for a in args]) == ENGINES["tgi"]["flags"]
    env_of = {a.flag.names[0]: a.env for a in args}
    for fact in ENGINES["tgi"]["facts"]:
        assert fact["env"] == [env_of[fact["flags"][0]]], fact["fact"]


@pytest.mark.parametrize("dist", ["vllm", "sglang", "tgi", "llama.cpp"])
def test_fact_and_secret_flags_are_flags_the_engine_defines(dist):
    flags = engines()[dist].flags
    entry = ENGINES[dist]
    for fact in entry["facts"]:
        for name in fact["flags"]:
            assert name in flags, (fact["fact"], name)
            assert (flags[name].takes == "none") == (fact["type"] == "bool"), (fact["fact"], name)
    for name in entry["secrets"]["flags"]:
        assert flags[name].takes != "none", name


@pytest.mark.parametrize("version", ["0.34.0", "0.11.0"])
def test_quantization_minimums_are_get_min_capability(version):
    derived = quantization_min_capabilities(tree("vllm", version))
    tabled = {row["method"]: row for row in requirements()["quantization"] if row["vllm"] == version}
    assert set(tabled) == set(derived)
    for method, found in derived.items():
        row = tabled[method]
        assert (row["min_capability"], row["class"], row["source"]) == (
            found.value, found.cls, f"pypi:vllm=={version} {found.path}:{found.line}"), method


def test_what_the_gates_rely_on():
    """The values the fit rules act on, stated plainly (a table edit that changes them fails)."""
    assert min_capability("awq", "0.34.0")[0] == 75
    assert min_capability("awq_marlin", "0.11.0")[0] == 80
    assert min_capability("fp8", "0.11.0")[0] == 80 and min_capability("fp8", "0.34.0")[0] == 75
    assert min_capability("fp8", "0.20.0")[0] == 75  # between two tables: the smaller minimum
    assert min_capability("gptq")[0] == 60 and min_capability("bitsandbytes")[0] == 70
    assert min_capability("bitsandbytes", "0.34.0") is None  # no longer a vLLM method
    bf16 = [r for r in requirements()["dtype_checks"] if r["dtype"] == "bfloat16"]
    assert {r["min_capability"] for r in bf16} == {80}
    flash = [r for r in requirements()["attention_backends"] if r["backend"] == "FLASH_ATTN"]
    assert {r["min_capability"] for r in flash} == {80}


def _cited() -> list[tuple[str, str, str, int, str | None]]:
    """(table, corpus dir, path, line, quote) for every cited line with a kept source file."""
    cited = []
    for table, data in TABLES.items():
        for row in _rows(data):
            quotes = {"source": row.get("quote"), "error_source": row.get("error_quote")}
            for key, value in row.items():
                texts = value if isinstance(value, list) else [value]
                for text in (t for t in texts if isinstance(t, str)):
                    quote = quotes.get(key)
                    for dist, version, path, line in PYPI.findall(text):
                        cited.append((table, f"{dist}-{version}", path, int(line), quote))
                    for path, commit, line in GITHUB_TGI.findall(text):
                        cited.append((table, f"text-generation-inference-{commit}", path, int(line), quote))
    return cited


def _rows(data):
    if isinstance(data, dict):
        if "source" in data:
            yield data
        for value in data.values():
            yield from _rows(value)
    elif isinstance(data, list):
        for value in data:
            yield from _rows(value)


CITED = _cited()


def test_the_tables_cite_many_lines():
    assert len(CITED) > 150


@pytest.mark.parametrize("table,directory,path,line,quote", CITED, ids=[f"{c[1]}/{c[2]}:{c[3]}" for c in CITED])
def test_each_cited_line_exists_and_says_what_is_quoted(table, directory, path, line, quote):
    file = CORPUS / directory / path
    assert file.is_file(), f"{table} cites {directory} {path}, which the corpus does not keep"
    lines = file.read_text(encoding="utf-8").splitlines()
    assert 1 <= line <= len(lines), f"{table}: {path}:{line} is past the end ({len(lines)} lines)"
    if quote is not None:
        window = lines[line - 2: line + 3]
        literals = "".join(a or b for text in window for a, b in STRING.findall(text))
        assert quote in "\n".join(window) or quote in literals, f"{path}:{line} does not say {quote!r}"


@pytest.mark.parametrize("directory", sorted(p.name for p in CORPUS.iterdir() if p.is_dir()))
def test_each_corpus_directory_says_where_it_came_from(directory):
    readme = (CORPUS / directory / "README.md").read_text(encoding="utf-8")
    kept = sorted(str(p.relative_to(CORPUS / directory)) for p in (CORPUS / directory).rglob("*") if p.is_file() and p.name != "README.md")
    assert sorted(re.findall(r"^  - `([^`]+)`$", readme, re.M)) == kept
    if not directory.startswith("text-generation-inference-"):
        assert re.search(r"- sha256: `[0-9a-f]{64}`", readme)
        assert re.search(rf"`{re.escape(directory)}-[^`]+\.whl`", readme)


def test_a_fact_flag_the_engine_does_not_define_is_refused(tmp_path, monkeypatch):
    text = engine_tables.ENGINES_PATH.read_text(encoding="utf-8")
    broken = tmp_path / "engines.yaml"
    broken.write_text(text.replace('flags: ["--tensor-parallel-size", "-tp"]', 'flags: ["--tensor-paralel-size", "-tp"]'), encoding="utf-8")
    monkeypatch.setattr(engine_tables, "ENGINES_PATH", broken)
    engine_tables.engines.cache_clear()
    try:
        with pytest.raises(TableError, match=r"engines\.vllm\.facts\[1\]: --tensor-paralel-size is not among the engine's flags"):
            engine_tables.engines()
    finally:
        engine_tables.engines.cache_clear()


def test_the_refresh_script_documents_itself():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "refresh_engine_sources.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--print-flags" in done.stdout


@pytest.mark.skipif(os.environ.get("WFGY_ENGINE_WHEELS") != "1", reason="downloads the newest vLLM and SGLang wheels: set WFGY_ENGINE_WHEELS=1")
@pytest.mark.parametrize("dist,read", [("vllm", vllm_flags), ("sglang", sglang_flags)])
def test_the_newest_wheels_still_spell_our_flags_the_same(dist, read, tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", dist, "-d", str(tmp_path)], check=True, timeout=1800)
    wheel = next(tmp_path.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "src", [n for n in archive.namelist() if n.endswith(".py")])
    defined = {}
    for flag in read(SourceTree(tmp_path / "src", dist)):
        for spelling in flag.names + flag.negations:
            defined[spelling] = flag.takes
    claimed = [(f, n) for f in ENGINES[dist]["facts"] for n in f["flags"]] + [({"fact": "secret"}, n) for n in ENGINES[dist]["secrets"]["flags"]]
    for fact, name in claimed:
        assert name in defined, f"{wheel.name} no longer defines {name} ({fact['fact']})"
        assert defined[name] == engines()[dist].flags[name].takes, f"{wheel.name}: {name} now takes {defined[name]}"
