"""``--format jsonl``: the streaming report of a fleet (SPEC §11 "Fleet"), one JSON object a line.

No header: results come first, written as bundles are judged, in memory that does not grow
with the fleet (`wfgy_rules.run.fleet`); what needs every result comes last.

* a **result line**: the result as in the ``json`` report (``target`` with ``--facts DIR``)
  plus ``bundle_digest``, the digest of the bundle it is about;
* a **bundle line** ``{"target": …, "bundle_digest": …}`` for a bundle that gave no result
  at all (no rule selected), so that every bundle's digest is in the report;
* stale-waiver warnings (``wfgy.waiver-*``) are result lines without a bundle: first in a
  fleet report, after the results of a single bundle (the ``json`` report's order);
* the **closing line**: ``version``, ``tool``, ``mode``, ``stage``, ``outcome``, ``forced``,
  ``fail_on``, ``policy_digest``, ``facts_digest``, ``summary``, ``bundles`` (how many were
  judged), ``fallback_env``, and in a shard's report ``shard`` (``"I/N"``) and ``run``, what
  ties the shard to its run (`wfgy_rules.run.fleet.RunIdentity`: the listing of the directory,
  the config, the selection, ``--force``). The ``json`` report's ``overridden`` list is left
  out: with ``forced``, the lines with ``blocking: true`` are the overridden results.

Lines come in the order of the ``json`` report's results, keys in a fixed order, nothing from
the clock: the same inputs give byte-identical output, serially or with ``--jobs``, and
`merge` of all N shard reports gives the report of the single run, byte for byte (the facts
digest recomputed from the bundle digests, `wfgy_rules.run.fleet`), once each shard has been
checked to add up and to belong to the same run (`wfgy_rules.reporters.shard_reports`).
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from wfgy_rules import __version__
from wfgy_rules.errors import UsageError
from wfgy_rules.reporters import Report, result_json
from wfgy_rules.reporters.shard_reports import bundle_groups, check_one_run, count, read_shard
from wfgy_rules.run.fleet import RunIdentity, Tally
from wfgy_rules.run.verdicts import Verdict
from wfgy_rules.run.waivers import EXPIRED, UNMATCHED

UNENCODABLE = "wfgy-json-escape"  # a stream that cannot carry a character gets a JSON \u escape (reporters.emit)
STREAMS = True  # written as bundles are judged (`reporters.stream`); every other format holds the run in memory


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # one encoder for every line (`json.dumps` builds one a call)


def _line(data: dict[str, Any]) -> str:
    return _ENCODE(data) + "\n"


def fleet_lines(tail: bytes, verdict_heads: list[tuple[bytes, ...]]) -> bytes:
    """A fleet bundle's lines (UTF-8): each head of its verdicts (`heads`) followed by the
    bundle's `fleet_tail`.

    A result line is its ``json`` report object without ``target``, then ``target`` and
    ``bundle_digest``: the first part is rendered once per verdict and kept with it, so a
    verdict shared by many bundles (`wfgy_rules.run.verdicts`) is encoded once."""
    return tail.join(itertools.chain.from_iterable(verdict_heads)) + tail


def fleet_tail(target: str, digest: str) -> bytes:
    """What ends each result line of a fleet bundle: its ``target`` and ``bundle_digest``."""
    return encoded(f', "target": {_ENCODE(target)}, "bundle_digest": {_ENCODE(digest)}}}\n')


def no_result_line(target: str, digest: str) -> bytes:
    """The line of a fleet bundle that gave no result (no rule selected)."""
    return encoded(_line({"target": target, "bundle_digest": digest}))


def heads(verdict: Verdict) -> tuple[bytes, ...]:
    """Each result line of a verdict up to its closing brace, UTF-8 (kept with the verdict)."""
    found = verdict.rendered.get("jsonl")
    if found is None:
        found = verdict.rendered["jsonl"] = tuple(encoded(_ENCODE(result_json(r))[:-1]) for r in verdict.results)
    return found


def encoded(text: str) -> bytes:
    """UTF-8, a character that is not valid Unicode (a lone surrogate from a file name) written
    as its ``\\uXXXX`` escape: what a report file or stdout gets (`wfgy_rules.documents.atomic_write`)."""
    return text.encode("utf-8", "backslashreplace")


def result_lines(results: Iterable, digest: str, target: str | None = None) -> str:
    """The lines of one bundle's results held in memory (a bundle line when there are none)."""
    if not results and target is not None:
        return _line({"target": target, "bundle_digest": digest})
    return "".join(_line({**result_json(r), "bundle_digest": digest}) for r in results)


def warning_lines(warnings: Iterable) -> str:
    return "".join(_line(result_json(r)) for r in warnings)


@dataclass(frozen=True)
class Closing:
    """What the closing line says besides the tally."""

    policy_digest: str
    fail_on: str
    mode: str = "eval"
    stage: str = "all"
    fallback_env: dict[str, str] = field(default_factory=dict)
    tool_version: str = __version__
    shard: str | None = None
    run: RunIdentity | None = None  # with shard: what ties the shard to its run


def closing_line(closing: Closing, counts: dict[str, int], failed: bool, forced: bool, facts_digest: str, bundles: int) -> str:
    data = {
        "version": "1",
        "tool": {"name": "wfgy-rules", "version": closing.tool_version},
        "mode": closing.mode,
        "stage": closing.stage,
        "outcome": "fail" if failed and not forced else "pass",
        "forced": forced,
        "fail_on": closing.fail_on,
        "policy_digest": closing.policy_digest,
        "facts_digest": facts_digest,
        "summary": counts,
        "bundles": bundles,
        "fallback_env": dict(sorted(closing.fallback_env.items())),
    }
    if closing.shard:
        data["shard"] = closing.shard
        data["run"] = closing.run.as_json()
    return _line(data)


def render(report: Report, color: bool = False) -> str:
    """The whole report from a run held in memory (``--report jsonl=F`` beside another format)."""
    outcome = report.outcome
    by_target = {t: list(rs) for t, rs in itertools.groupby(outcome.results, key=lambda r: r.target)}
    bundles = report.bundles or ((None, report.facts_digest),)
    fleet = any(target is not None for target, _ in bundles)
    warnings = [r for r in by_target.get(None, []) if r.policy == "wfgy" and r.rule_id in (EXPIRED, UNMATCHED)]
    parts = [warning_lines(warnings)] if fleet else []
    for target, digest in bundles:
        results = [r for r in by_target.get(target, []) if not (target is None and r in warnings)]
        parts.append(result_lines(results, digest, target))
    if not fleet:
        parts.append(warning_lines(warnings))
    closing = Closing(report.policy_digest, outcome.fail_on.name, report.mode, report.stage, report.fallback_env, report.tool_version)
    parts.append(closing_line(closing, outcome.summary, outcome.failed, outcome.forced, report.facts_digest, len(report.bundles) or 1))
    return "".join(parts)


# merging shard reports ---------------------------------------------------------------------

def merge(paths: list[str], out: TextIO) -> int:
    """Write to ``out`` the report the single run would have written from the ``jsonl``
    reports of all N shards of one run (any order); `UsageError` (exit 2) when they are not
    that (`wfgy_rules.reporters.shard_reports`: each line's shape, each shard recounted, the
    shards of one run), or a bundle is in two shards. Every shard is checked before a line is
    written; then the shards are read again and streamed: memory does not grow with the fleet.
    The merged run is forced when the run asked for ``--force`` (every shard did) and failed.
    Returns the merged run's exit code."""
    shards = [read_shard(path) for path in paths]
    check_one_run(shards)
    first = shards[0]
    tally = Tally()
    out.write("".join(line.text for line in first.warnings))
    for line in first.warnings:
        count(tally, line.data)
    previous: str | None = None
    for target, digest, lines in heapq.merge(*map(bundle_groups, shards), key=lambda item: item[0]):
        if previous is not None and target <= previous:
            raise UsageError(f"{target}: in more than one shard report")
        previous = target
        tally.add_bundle(target, digest)
        for line in lines:
            if line.kind == "result":
                count(tally, line.data)
        out.write("".join(line.text for line in lines))
    expected = {status: sum(s.tally.counts[status] for s in shards) - (len(shards) - 1) * first.warned.counts[status]
                for status in tally.counts}
    if tally.bundles != sum(s.tally.bundles for s in shards) or tally.counts != expected:
        raise UsageError("a shard report changed while it was merged: merge again")
    forced = first.force and tally.failed
    closing = first.closing
    spec = Closing(closing["policy_digest"], closing["fail_on"], closing["mode"], closing["stage"], closing["fallback_env"],
                   closing["tool"]["version"])
    digest = tally.facts_digest if tally.fleet else closing["facts_digest"]
    out.write(closing_line(spec, tally.counts, tally.failed, forced, digest, tally.bundles))
    return 1 if tally.failed and not forced else 0


def write_merged(paths: list[str], output: str | None, stream: TextIO) -> int:
    """`merge` to ``output`` (atomically) or ``stream``."""
    if output:
        from wfgy_rules.documents.atomic_write import open_atomic

        with open_atomic(Path(output)) as handle:
            return merge(paths, handle)
    code = merge(paths, stream)
    stream.flush()
    return code
