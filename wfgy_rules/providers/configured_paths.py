"""A path wfgy.yaml names that is not there: one sentence for every provider.

A configured input that does not exist (a typo, an unmounted volume, a glob that matches
nothing) is a problem the rules that need it report, never a quiet skip. Each provider says
it the same way, naming the setting, the path as configured and what it is relative to::

    model_dir ./models does not exist (relative to wfgy.yaml)
    model_card path deploy/card.json does not exist (relative to wfgy.yaml)
    prompts path prompts/**/*.j2 matches no file (relative to wfgy.yaml)

An absolute path is shown as it is, without the note.
"""

from __future__ import annotations

from pathlib import Path


def not_there(setting: str, configured: str, problem: str = "does not exist") -> str:
    """``SETTING PATH PROBLEM (relative to wfgy.yaml)``; the note only for a relative path."""
    relative = "" if Path(configured).is_absolute() else " (relative to wfgy.yaml)"
    return f"{setting} {configured} {problem}{relative}"
