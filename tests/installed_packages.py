"""A site-packages directory as pip leaves it, for CLI tests of what is "installed in the image":
put it on the CLI's ``PYTHONPATH`` and the runtime provider (and ``lock``) find the packages
through their real metadata, as they would in the image.
"""

from __future__ import annotations

from pathlib import Path


def install(site: Path, name: str, version: str) -> Path:
    """``name`` ``version`` installed in ``site``: the ``*.dist-info/METADATA`` pip writes."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return site


def install_torch(site: Path, version: str, cuda: str | None, git_version: str) -> Path:
    """torch ``version`` in ``site``: its metadata and the ``torch/version.py`` a wheel ships
    (``__init__`` refuses to be imported: wfgy-rules must read torch, never import it)."""
    install(site, "torch", version)
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text("raise ImportError('wfgy-rules must not import torch')\n")
    (site / "torch" / "version.py").write_text(f"__version__ = {version!r}\ndebug = False\ncuda = {cuda!r}\ngit_version = {git_version!r}\n")
    return site
