"""Every install snippet names something that exists: until a release is recorded in
CHANGELOG.md, the Action, pre-commit and pip snippets name the branch ``main`` (never a tag
that is not there, never a package that is not published); once one is, its tag. The pip
snippet from git installs as written (the URL pointed at a local copy)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from tests.helpers import REPO
from tests.integration.readme_install import REPOSITORY_URL, install_snippets, package_repository
from wfgy_rules import __version__

_RELEASE = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", re.M)


def _refs(text: str) -> list[str]:
    """The refs an install snippet names: ``uses: …@REF``, ``rev: REF``, ``git+URL@REF``."""
    refs = re.findall(r"uses: wfgy-rules/wfgy-rules@([^\s\"']+)", text)
    refs += re.findall(r"^\s*#?\s*rev: ([^\s\"']+)", text, re.M)
    refs += re.findall(re.escape(f"git+{REPOSITORY_URL}@") + r"([^\s\"']+)", text)
    return refs


def test_every_snippet_names_main_until_a_release_and_then_its_tag():
    released = _RELEASE.findall((REPO / "CHANGELOG.md").read_text(encoding="utf-8"))
    expected = f"v{released[0]}" if released else "main"
    places = {
        "README.md install section": "\n".join(install_snippets("yaml") + install_snippets("sh")),
        "action.yml": (REPO / "action.yml").read_text(encoding="utf-8"),
        ".pre-commit-hooks.yaml": (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"),
        "the example workflow": (REPO / "policies.example" / ".github" / "workflows" / "wfgy-rules.yml").read_text(encoding="utf-8"),
    }
    for place, text in places.items():
        refs = _refs(text)
        assert refs and set(refs) == {expected}, (place, refs)
    if released:
        assert released[0] == __version__, "the newest release in CHANGELOG.md is the version wfgy_rules/__init__.py says"
    everything = "\n".join([(REPO / "README.md").read_text(encoding="utf-8"), *places.values(),
                            *(p.read_text(encoding="utf-8") for p in (REPO / "policies.example").rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".md"))])
    by_name = re.findall(r"pip install [^\n]*?(?<![\w@/.-])wfgy-rules(?:==[\w.]+)?(?=\s|$|\")(?!\s*@)", everything)  # not "wfgy-rules @ git+…"
    assert released or by_name == [], f"installs a package that is not published: {by_name}"


def test_the_pre_commit_and_action_snippets_parse_and_name_this_repository():
    pre_commit, action = (next(s for s in install_snippets("yaml") if marker in s) for marker in ("rev:", "uses: wfgy-rules/"))
    entry = yaml.safe_load(pre_commit)["repos"][0]
    assert entry["repo"] == REPOSITORY_URL
    manifest = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [hook["id"] for hook in entry["hooks"]] == [hook["id"] for hook in manifest]
    assert yaml.safe_load(action)["steps"][0] == {"uses": "actions/checkout@v4"}


@pytest.mark.slow
def test_pip_install_from_git_as_written(tmp_path):
    """The README's ``pip install "wfgy-rules @ git+URL@main"`` into a fresh environment, with
    the URL pointed at a local repository holding the package files. About 30 s."""
    (snippet,) = [s for s in install_snippets("sh") if "git+" in s]
    source = package_repository(tmp_path / "wfgy-rules")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "python")], check=True, capture_output=True, timeout=120)
    bin_dir = tmp_path / "python" / "bin"
    command = snippet.strip().replace(REPOSITORY_URL, f"file://localhost{source}")  # pip 23 wants a host in a URL requirement
    assert command.startswith("pip install ")
    done = subprocess.run(["sh", "-c", f"{bin_dir}/{command}"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    version = subprocess.run([str(bin_dir / "wfgy-rules"), "--version"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert version.stdout == f"wfgy-rules {__version__}\n"
