"""The ``jsonl`` reports of a fleet's shards (``eval --facts DIR --shard I/N --format jsonl``),
read and checked before `wfgy_rules.reporters.jsonl.merge` writes a line. Every problem is
exit 2, one line naming the file (and line):

* **Each line has the shape** ``--format jsonl`` writes (`wfgy_rules.reporters.jsonl_lines`).
* **Each shard adds up.** Its lines are recounted — the bundles, the facts digest over their
  bundle digests, the summary, whether a result blocks — and must say what its closing line
  says, whose ``outcome`` must be the one they give (``fail`` when a result blocks and the run
  was not forced). A shard whose failing lines were deleted is refused at its closing line.
* **The shards are one run**: all N shards of one split, each once, with the same tool, mode,
  stage, ``fail_on``, policy digest, waiver warnings and ``run`` — the listing of
  ``--facts DIR``, the config, the selection and ``--force``
  (`wfgy_rules.run.fleet.RunIdentity`). The shard that differs from the most others is named
  (with two, the second from the first given). Together the shards must hold every bundle of
  the listing, each once.

A shard report is read twice (checked, then merged), one line at a time: memory does not grow
with the fleet. A report without ``shard`` (a whole run) merges alone, as ``1/1``.
"""

from __future__ import annotations

import itertools
import json
import os
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from wfgy_rules.documents.yamlio import max_file_bytes
from wfgy_rules.errors import Problem, UsageError
from wfgy_rules.reporters.jsonl_lines import Line, read_line, refused
from wfgy_rules.run.fleet import Tally

SHOWN = 10  # missing shards named in a message, at most

# What must be the same in every shard of one run, with how a message names it.
SAME_RUN = (
    (("version",), "the report version"),
    (("tool",), "the tool (tool.version)"),
    (("mode",), "the mode"),
    (("stage",), "the stage (--stage)"),
    (("fail_on",), "fail_on (--fail-on or the config)"),
    (("policy_digest",), "the policies (policy_digest)"),
    (("fallback_env",), "fallback_env"),
    (("run", "listing_digest"), "the bundle listing of --facts DIR (names, sizes, modification times: run.listing_digest)"),
    (("run", "listed_bundles"), "the bundle listing of --facts DIR (run.listed_bundles)"),
    (("run", "config_digest"), "the config (run.config_digest)"),
    (("run", "selection", "only"), "the selection (--only)"),
    (("run", "selection", "skip"), "the selection (--skip)"),
    (("run", "force"), "--force (run.force)"),
)


@dataclass
class ShardReport:
    """One shard report, checked: its closing line and what its lines add up to."""

    path: str
    closing: dict[str, Any]
    closing_number: int
    warnings: list[Line] = field(default_factory=list)  # lines before the first bundle: waiver warnings (or a single bundle's results)
    tally: Tally = field(default_factory=Tally)  # every line recounted
    warned: Tally = field(default_factory=Tally)  # the warnings alone

    @property
    def spec(self) -> tuple[int, int]:
        """(I, N) of ``shard: "I/N"``; (1, 1) for the report of a whole run."""
        index, _, count = self.closing.get("shard", "1/1").partition("/")
        return int(index), int(count)

    @property
    def force(self) -> bool:
        """Whether the run asked for ``--force`` (a whole run's report says only whether it was forced)."""
        run = self.closing.get("run")
        return run["force"] if run else self.closing["forced"]

    @property
    def identity(self) -> tuple[str, ...]:
        return tuple(json.dumps(_get(self.closing, keys), sort_keys=True) for keys, _ in SAME_RUN)


def read_shard(path: str) -> ShardReport:
    """Read and check one shard report (`UsageError`, exit 2, naming FILE:LINE)."""
    tally, warned = Tally(), Tally()
    warnings: list[Line] = []
    closing: Line | None = None
    bundle: tuple[str, str] | None = None
    alone = False  # the bundle read last gave no result: its one line is all it has
    for line in report_lines(path):
        if closing is not None:
            raise refused(path, line.number, "a line after the closing line")
        if line.kind == "closing":
            closing = line
            continue
        target = line.data.get("target")
        if target is None:
            if bundle is not None:
                raise refused(path, line.number, "a result without target after the bundle lines: not a fleet shard report line")
            warnings.append(line)
            count(warned, line.data)
        elif alone or line.kind == "bundle" or (target, line.data["bundle_digest"]) != bundle:
            if bundle is not None and target <= bundle[0]:
                raise refused(path, line.number, f"bundle {target} comes after {bundle[0]}: out of order, or given twice")
            bundle = (target, line.data["bundle_digest"])
            tally.add_bundle(*bundle)
        alone = line.kind == "bundle"
        if line.kind == "result":
            count(tally, line.data)
    if closing is None:
        raise UsageError(f"{path}: not a jsonl report (no closing line)",
                         [Problem(path, "not a jsonl report (no closing line): write shard reports with --format jsonl")])
    report = ShardReport(path, closing.data, closing.number, warnings, tally, warned)
    _check_adds_up(report, fleet=bundle is not None or "shard" in closing.data)
    return report


def count(tally: Tally, data: dict[str, Any]) -> None:
    """Add one result line (checked) to ``tally``."""
    tally.counts[data["status"]] += 1
    tally.failed = tally.failed or data["blocking"]


def _check_adds_up(report: ShardReport, fleet: bool) -> None:
    """The closing line says what the lines add up to (`UsageError` at the closing line)."""
    closing, tally = report.closing, report.tally
    said = None
    if fleet and closing["bundles"] != tally.bundles:
        said = f"its lines hold {tally.bundles} bundle(s) but the closing line says bundles {closing['bundles']}"
    elif fleet and closing["facts_digest"] != tally.facts_digest:
        said = f"its bundle lines give facts_digest {tally.facts_digest} but the closing line says {closing['facts_digest']}"
    elif closing["summary"] != tally.counts:
        said = f"its lines count {_counts(tally.counts)} but the closing line says {_counts(closing['summary'])}"
    else:
        forced = report.force and tally.failed
        outcome = "fail" if tally.failed and not forced else "pass"
        blocks = "a result blocks" if tally.failed else "no result blocks"
        if closing["forced"] != forced:
            said = f"{blocks}{' and the run asked for --force' if report.force else ''}, but the closing line says forced {json.dumps(closing['forced'])}"
        elif closing["outcome"] != outcome:
            said = f"{blocks}{' (forced)' if forced else ''}, but the closing line says outcome {closing['outcome']}"
    if said:
        raise refused(report.path, report.closing_number, f"{said}: a line was removed, added or changed")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{status} {number}" for status, number in counts.items())


def check_one_run(shards: list[ShardReport]) -> None:
    """All N shards of one run, each once (`UsageError` naming the shard that differs)."""
    _check_complete(shards)
    agree = Counter(shard.identity for shard in shards)
    reference = max(shards, key=lambda shard: agree[shard.identity])  # the first of the most that agree
    for shard in shards:
        for (_, what), mine, theirs in zip(SAME_RUN, shard.identity, reference.identity):
            if mine != theirs:
                raise refused(shard.path, shard.closing_number, f"not a shard of the same run as {reference.path}: {what} differs")
        if [w.text for w in shard.warnings] != [w.text for w in reference.warnings]:
            raise refused(shard.path, 1, f"not a shard of the same run as {reference.path}: its waiver warnings differ")
    run = reference.closing.get("run")
    held = sum(shard.tally.bundles for shard in shards)
    if run and held != run["listed_bundles"]:
        raise UsageError(f"the {len(shards)} shard reports hold {held} bundle(s), but --facts DIR listed {run['listed_bundles']}: "
                         "a shard's lines were removed or added")


def _check_complete(shards: list[ShardReport]) -> None:
    specs = [shard.spec for shard in shards]
    splits = {n for _, n in specs}
    if len(splits) != 1:
        raise UsageError(f"the reports are shards of different splits: {', '.join(sorted({f'{i}/{n}' for i, n in specs}))}")
    total = splits.pop()
    present = Counter(index for index, _ in specs)
    if len(present) == total and max(present.values()) == 1:
        return
    missing = list(itertools.islice((i for i in range(1, total + 1) if i not in present), SHOWN))  # N may be huge
    more = total - len(present) - len(missing)
    twice = sorted(i for i, times in present.items() if times > 1)
    what = [f"missing shard(s) {', '.join(f'{i}/{total}' for i in missing)}{f' and {more} more' if more else ''}"] if missing else []
    what += [f"shard(s) given twice: {', '.join(f'{i}/{total}' for i in twice)}"] if twice else []
    raise UsageError(f"cannot merge: {'; '.join(what)}")


def bundle_groups(shard: ShardReport) -> Iterator[tuple[str, str, list[Line]]]:
    """(target, bundle digest, its lines) for each bundle of a checked shard report, in order,
    read again (and checked again: the file may have changed since)."""
    current: tuple[str, str] | None = None
    group: list[Line] = []
    for line in report_lines(shard.path):
        if line.kind == "closing":
            break
        if "target" not in line.data:
            continue
        key = (line.data["target"], line.data["bundle_digest"])
        if key != current:
            if current is not None:
                yield (*current, group)
            current, group = key, []
        group.append(line)
    if current is not None:
        yield (*current, group)


def report_lines(path: str) -> Iterator[Line]:
    """Each line of a report file, checked (`wfgy_rules.reporters.jsonl_lines`): a regular file
    (it is read twice), no line over ``WFGY_MAX_FILE_BYTES``."""
    limit = max_file_bytes()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read", [Problem(path, f"cannot read: {exc.strerror or exc}")]) from None
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"{path}: not a file", [Problem(path, "not a regular file: a shard report is read twice")])
        number = 0
        while raw := handle.readline(limit + 1):
            number += 1
            if len(raw) > limit:
                raise refused(path, number, f"a line over the {limit}-byte limit (WFGY_MAX_FILE_BYTES)")
            yield read_line(path, number, raw)


def _get(data: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data
