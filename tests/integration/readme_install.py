"""The README's install section as the tests read it: its fenced snippets, by language, and a
scratch git repository holding this project's package files (what a user's clone, a pinned
branch or the Action's checkout holds), so no test runs git in the working tree."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

from tests.helpers import REPO, git

README = REPO / "README.md"
REPOSITORY_URL = "https://github.com/wfgy-rules/wfgy-rules"
# What `pip install .` builds from, and what pre-commit and the Action read.
PACKAGE_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "action.yml", "wfgy_rules", "schemas", "rules")
_FENCE = re.compile(r"^( *)```(\w+)\n(.*?)^\1```$", re.M | re.S)


def install_snippets(language: str) -> list[str]:
    """The fenced ``language`` blocks of the README's ``## Install`` section, dedented."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Install\n")
    section = text[start:text.index("\n## ", start + 1)]
    return [textwrap.dedent(body) for _, lang, body in _FENCE.findall(section) if lang == language]


def copy_package(destination: Path) -> Path:
    """``destination`` holding the package files, without caches."""
    destination.mkdir(parents=True)
    for name in PACKAGE_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, destination / name)
    return destination


def package_repository(destination: Path) -> Path:
    """A git repository (branch ``main``, one commit) holding the package files."""
    copy_package(destination)
    git(destination, "init", "-q")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "wfgy-rules")
    return destination
