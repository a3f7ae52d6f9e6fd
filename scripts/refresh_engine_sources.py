#!/usr/bin/env python3
"""Refresh the engine source files the serving tables are checked against.

``wfgy_rules/providers/serving/engines.yaml`` and ``gpu_requirements.yaml`` cite the real
engines' source (``pypi:vllm==0.34.0 vllm/engine/arg_utils.py:1223``). The tests read those
files, unedited, from ``tests/corpus/serving/engines/<dist>-<version>/<path in the wheel>``
so CI needs no 400 MB download. This script rebuilds that corpus: for every ``dist==version``
the tables cite (or those named on the command line) it downloads the wheel with
``pip download --no-deps``, unpacks it to a temporary directory, copies every file the checks
read (the argument definitions and what they import, the quantization configs, each file a
table entry cites) and writes a README.md there with the wheel's name and sha256. The TGI
launcher (Rust, not on PyPI) is fetched from GitHub at the commit the tables cite.

To bump a version: run with the new ``dist==version``, then ``--print-flags`` prints the
``flags:`` rows for engines.yaml as the new source defines them; update the table's
``version`` and ``read_from``, fix the facts the tests then report, and delete the old
corpus directory when nothing cites it any more.

    python scripts/refresh_engine_sources.py                      # what the tables cite
    python scripts/refresh_engine_sources.py vllm==0.35.0 --print-flags
    python scripts/refresh_engine_sources.py --wheels /work/notes/wheels
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from tests.providers.serving.argdefs import as_rows  # noqa: E402
from tests.providers.serving.pysource import SourceTree  # noqa: E402
from tests.providers.serving.sglang_argdefs import sglang_flags  # noqa: E402
from tests.providers.serving.tgi_argdefs import MAIN_RS, tgi_args  # noqa: E402
from tests.providers.serving.vllm_argdefs import vllm_flags  # noqa: E402
from tests.providers.serving.vllm_capabilities import quantization_min_capabilities  # noqa: E402

CORPUS = ROOT / "tests" / "corpus" / "serving" / "engines"
TABLES = [ROOT / "wfgy_rules" / "providers" / "serving" / n for n in ("engines.yaml", "gpu_requirements.yaml")]
PYPI_SOURCE = re.compile(r"pypi:([A-Za-z0-9_.-]+)==([A-Za-z0-9_.+-]+) ([^\s:]+\.py):\d+")
GITHUB_SOURCE = re.compile(r"github:huggingface/text-generation-inference ([^\s@]+)@([0-9a-f]{40})")
TGI_RAW = "https://raw.githubusercontent.com/huggingface/text-generation-inference/{ref}/{path}"


def cited() -> tuple[dict[tuple[str, str], set[str]], dict[str, set[str]]]:
    """{(dist, version): {paths}} and {tgi commit: {paths}} that the tables cite."""
    wheels: dict[tuple[str, str], set[str]] = {}
    tgi: dict[str, set[str]] = {}
    for table in TABLES:
        text = table.read_text(encoding="utf-8")
        for dist, version, path in PYPI_SOURCE.findall(text):
            wheels.setdefault((dist, version), set()).add(path)
        for path, commit in GITHUB_SOURCE.findall(text):
            tgi.setdefault(commit, set()).add(path)
    return wheels, tgi


def download(dist: str, version: str, wheels: Path) -> Path:
    found = sorted(wheels.glob(f"{dist.replace('-', '_')}-{version}-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", f"{dist}=={version}", "-d", str(wheels)],
            check=True,
        )
        found = sorted(wheels.glob(f"{dist.replace('-', '_')}-{version}-*.whl"))
    return found[0]


def read_paths(dist: str, tree: SourceTree, version: str, flags_version: str | None) -> list[dict] | None:
    """Run the checks over the unpacked wheel (so ``tree.used`` lists what they read)."""
    if dist == "vllm":
        quantization_min_capabilities(tree)
        if version == flags_version:
            return as_rows(vllm_flags(tree))
    if dist == "sglang" and version == flags_version:
        return as_rows(sglang_flags(tree))
    return None


def refresh_wheel(dist: str, version: str, paths: set[str], wheels: Path, print_flags: bool) -> None:
    wheel = download(dist, version, wheels)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    target = CORPUS / f"{dist}-{version}"
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(tmp, [n for n in archive.namelist() if n.endswith(".py")])
        tree = SourceTree(Path(tmp), dist.replace("-", "_"))
        rows = read_paths(dist, tree, version, _table_version(dist))
        if rows is None and print_flags and dist in ("vllm", "sglang"):
            rows = as_rows(vllm_flags(tree) if dist == "vllm" else sglang_flags(tree))
        files = sorted(set(paths) | tree.used)
        if target.exists():
            shutil.rmtree(target)
        for path in files:
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(tmp) / path, target / path)
    _write_readme(target, f"`{wheel.name}` from PyPI (`pip download --no-deps {dist}=={version}`)", digest, files)
    if print_flags and rows is not None:
        print(f"# {dist} {version}: flags")
        for row in rows:
            print("      - " + yaml.safe_dump(row, default_flow_style=True, width=10_000, sort_keys=False).strip())


def refresh_tgi(commit: str, paths: set[str], git_dir: Path | None) -> None:
    """TGI's files at ``commit``: from GitHub, or from a local clone (``--tgi-git-dir``)."""
    target = CORPUS / f"text-generation-inference-{commit}"
    if target.exists():
        shutil.rmtree(target)
    for path in sorted(paths | {MAIN_RS}):
        if git_dir is not None:
            data = subprocess.run(
                ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"], check=True, capture_output=True
            ).stdout
        else:
            with urllib.request.urlopen(TGI_RAW.format(ref=commit, path=path), timeout=60) as response:
                data = response.read()
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_bytes(data)
    tgi_args((target / MAIN_RS).read_text(encoding="utf-8"))  # fails here if the struct moved
    _write_readme(target, f"github.com/huggingface/text-generation-inference at commit `{commit}`", None, sorted(paths | {MAIN_RS}))


def _table_version(dist: str) -> str | None:
    data = yaml.safe_load(TABLES[0].read_text(encoding="utf-8"))
    engine = data["engines"].get(dist)
    return engine["version"] if engine else None


def _write_readme(target: Path, origin: str, digest: str | None, files: list[str]) -> None:
    lines = [
        f"# {target.name}",
        "",
        "Unedited source files of a serving engine, kept so the serving-table tests",
        "(tests/providers/serving/test_engine_tables.py) run without downloading the engine.",
        "Regenerate with `python scripts/refresh_engine_sources.py`.",
        "",
        f"- origin: {origin}",
    ]
    if digest:
        lines.append(f"- sha256: `{digest}`")
    lines += ["- files:", *[f"  - `{f}`" for f in files], ""]
    (target / "README.md").write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheels", nargs="*", metavar="DIST==VERSION", help="wheels to refresh (default: those the tables cite)")
    parser.add_argument("--wheels", dest="wheel_dir", type=Path, help="directory to download wheels into / reuse them from")
    parser.add_argument("--print-flags", action="store_true", help="print the flags: rows of engines.yaml for each wheel")
    parser.add_argument("--tgi-git-dir", type=Path, help="read TGI's files from this clone's git directory instead of GitHub")
    args = parser.parse_args()
    wanted, tgi = cited()
    for item in args.wheels:
        dist, _, version = item.partition("==")
        wanted.setdefault((dist, version), set())
    if args.wheels:
        named = {tuple(item.partition("==")[::2]) for item in args.wheels}
        wanted = {key: paths for key, paths in wanted.items() if key in named}
        tgi = {}
    with tempfile.TemporaryDirectory() as tmp:
        wheel_dir = args.wheel_dir or Path(tmp)
        for (dist, version), paths in sorted(wanted.items()):
            refresh_wheel(dist, version, paths, wheel_dir, args.print_flags)
    for commit, paths in tgi.items():
        refresh_tgi(commit, paths, args.tgi_git_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
