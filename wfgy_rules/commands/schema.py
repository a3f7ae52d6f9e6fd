"""``wfgy-rules schema NAME``: print a published JSON Schema."""

from __future__ import annotations

import sys

from wfgy_rules.documents.schema import SCHEMA_NAMES
from wfgy_rules.errors import UsageError
from wfgy_rules.resources import resource_path


def run(name: str) -> int:
    if name not in SCHEMA_NAMES:
        raise UsageError(f"unknown schema {name!r}; one of: {', '.join(SCHEMA_NAMES)}")
    sys.stdout.write(resource_path(f"schemas/{name}.schema.json").read_text(encoding="utf-8"))
    return 0
