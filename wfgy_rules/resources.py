"""Where the files that ship beside the code (``schemas/``, ``rules/``) are found.

An installed wheel carries them inside the package (``pyproject.toml`` force-includes them as
``wfgy_rules/schemas`` and ``wfgy_rules/rules``); a source checkout keeps them at the top of
the repository. `resource_path` answers for both, so no caller needs to know which it runs from.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    """The path of a shipped resource, e.g. ``resource_path("schemas/model-card.schema.json")``.

    The copy inside the package wins; otherwise the one at the repository root is returned
    (whether or not it exists, so a missing resource fails where it is opened, with its path).
    """
    packaged = _PACKAGE_DIR / name
    return packaged if packaged.exists() else _PACKAGE_DIR.parent / name
