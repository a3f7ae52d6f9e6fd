"""``wfgy-rules init``: a starter project for the current directory, without a question.

Writes ``wfgy.yaml``, ``policies/team.yaml``, ``policies/team.test.yaml`` and
``prompt_vars.yaml`` (`wfgy_rules.documents.starter_project` says what it detects). When
any of them exists nothing is written and the command exits 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

from wfgy_rules.documents.atomic_write import write_atomic
from wfgy_rules.documents.starter_project import FILES, starter_files
from wfgy_rules.errors import Problem, UsageError


def run() -> int:
    root = Path.cwd()
    existing = [name for name in FILES if (root / name).exists()]
    if existing:
        raise UsageError("refusing to overwrite", [Problem(name, "already exists; wfgy-rules init writes nothing (move it away to start over)") for name in existing])
    files = starter_files(root)
    for name in FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(root / name, files[name])
        print(f"wrote {name}", file=sys.stderr)
    print("next: wfgy-rules validate && wfgy-rules test && wfgy-rules diff && wfgy-rules eval", file=sys.stderr)
    return 0
