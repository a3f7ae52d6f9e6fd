"""``wfgy-rules init``: a starter project for the current directory, without a question.

Writes ``wfgy.yaml``, ``policies/team.yaml``, ``policies/team.test.yaml`` and
``prompt_vars.yaml`` (`wfgy_rules.documents.starter_project` says what it detects). When
anything is already at one of those names — a file, a directory, a symbolic link (a
dangling one too) — or ``policies`` is a link or not a directory, nothing is written and
the command exits 2. It never writes through a link, so nothing outside the directory is
touched (`wfgy_rules.documents.atomic_write.write_new`).

In a subdirectory of a project, where a ``wfgy.yaml`` above (up to the repository root)
already applies, nothing is written either: a new ``./wfgy.yaml`` would silently take its
place for every command run here. The error names that config; ``--nested`` writes the
project anyway, for a part of the repository that is its own project.

The last line says what to run next: ``wfgy-rules eval --stage ci``, the stage that passes
on a laptop or a CI runner without the production secrets (those are ``preflight``'s, where
the service starts), after ``wfgy-rules lock`` when there is no model card yet.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath

from wfgy_rules.documents.atomic_write import write_new
from wfgy_rules.documents.starter_project import FILES, starter_files
from wfgy_rules.errors import Problem, UsageError
from wfgy_rules.providers.model.model_card import DEFAULT_PATH as MODEL_CARD
from wfgy_rules.run.config import find_config


def run(nested: bool = False) -> int:
    root = Path.cwd()
    above = None if nested else _config_above(root)
    if above:
        raise UsageError("a config above applies here", [Problem(above, "already applies in this directory; wfgy-rules init writes nothing "
                                                                        "(--nested writes a project here, which commands run here then read instead)")])
    in_the_way = _in_the_way(root)
    if in_the_way:
        raise UsageError("refusing to overwrite", [Problem(name, f"{why}; wfgy-rules init writes nothing (move it away to start over)") for name, why in in_the_way.items()])
    files = starter_files(root)
    for name in FILES:
        write_new(root, name, files[name])
        print(f"wrote {name}", file=sys.stderr)
    lock = "" if (root / MODEL_CARD).is_file() else f"wfgy-rules lock --model ORG/NAME (writes {MODEL_CARD} from what is installed here), then "
    print(f"next: {lock}wfgy-rules eval --stage ci (the checks CI runs: no production secrets or GPU needed)", file=sys.stderr)
    return 0


def _config_above(root: Path) -> str | None:
    """The ``wfgy.yaml`` of a parent directory that commands run in ``root`` read (shown from
    ``root``), or None (none, or ``./wfgy.yaml``, which `_in_the_way` reports)."""
    found = find_config(None)
    if found is None or found.parent == root.resolve():
        return None
    return Path(os.path.relpath(found, root.resolve())).as_posix()


def _in_the_way(root: Path) -> dict[str, str]:
    """Name → why, for every entry that stops init: any entry where a file goes, a link or a
    non-directory where a directory goes (in the order of `FILES`)."""
    found: dict[str, str] = {}
    for name in FILES:
        for directory in reversed(PurePosixPath(name).parents[:-1]):
            path = root / directory
            if path.is_symlink():
                found[str(directory)] = "is a symbolic link"
            elif os.path.lexists(path) and not path.is_dir():
                found[str(directory)] = "is not a directory"
        if os.path.lexists(root / name):
            found[name] = "is a symbolic link" if (root / name).is_symlink() else "already exists"
    return found
