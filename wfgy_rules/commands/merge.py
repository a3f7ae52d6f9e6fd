"""``wfgy-rules merge``: the shard reports of a fleet run (``eval --facts DIR --shard I/N
--format jsonl``) combined into the report the single run would have written
(`wfgy_rules.reporters.jsonl.merge`); exits as that run would (0 pass or forced, 1 fail)."""

from __future__ import annotations

import sys

from wfgy_rules.reporters.jsonl import write_merged


def run(reports: list[str], output: str | None) -> int:
    return write_merged(reports, output, sys.stdout)
