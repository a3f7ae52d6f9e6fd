"""Judging bundle by bundle: what ``eval`` does with one bundle and, at fleet scale, with
``--facts DIR`` (SPEC §11 "Fleet").

A `Plan` holds what judging one bundle needs (the rules, the active waivers, ``fail_on``,
where locations are rebased to) and turns a `Bundle` into a `Judged`: one `Verdict` per rule,
its results waived, marked blocking and in report order. A rule is judged once per distinct
text of the sections it reads (`wfgy_rules.run.verdicts`): across a fleet, bundles that
share a section share the verdicts of the rules that read it. Nothing about one bundle
depends on another, so a fleet is judged one bundle at a time, in a process pool
(`judged`, ``--jobs``) or serially, in the same deterministic order (by file name), and a
`Tally` adds up what the closing lines of a report need — the counts, whether any result
blocks, and the facts digest — in memory that does not grow with the number of bundles.

**The facts digest.** One bundle: its digest (`wfgy_rules.model.Bundle.digest`). A fleet
(``--facts DIR``): ``sha256:`` + the sha256 of the lines ``TARGET DIGEST\\n``, one per bundle
in order of their file names (code points), ``TARGET`` the file name and ``DIGEST`` the
bundle's ``sha256:…``. It can be recomputed from the per-bundle digests a ``jsonl`` report
carries, which is what makes merging shard reports exact (`wfgy_rules.reporters.jsonl`).

**Shards** (``--shard I/N``): a bundle belongs to shard ``1 + int(sha256(file name)[:16 hex]) mod N``:
stable across re-runs and across bundles coming and going (only the file name decides). Each
shard lists the whole directory to find its own bundles; its report carries what ties it to
one run (`RunIdentity`: a digest of that listing, of the config, the selection, ``--force``),
so that ``merge`` can refuse a shard of another run.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field, fields, replace
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from wfgy_rules.errors import Problem, UsageError, WfgyError
from wfgy_rules.model import Bundle, Result, Rule, Severity, Status
from wfgy_rules.policy.deadlines import rule_seconds, watchdog
from wfgy_rules.run.engine import evaluate_within, stopped
from wfgy_rules.run.outcome import is_blocking
from wfgy_rules.run.rebase import rebase
from wfgy_rules.run.verdicts import Verdict, Verdicts
from wfgy_rules.run.waivers import sort_waivers, waive


@dataclass(frozen=True)
class Shard:
    """``--shard I/N``: the I-th of N shards (I counts from 1)."""

    index: int
    count: int

    @classmethod
    def parse(cls, spec: str) -> Shard:
        index, sep, count = spec.partition("/")
        if not (sep and all(part.isascii() and part.isdigit() for part in (index, count)) and 1 <= int(index) <= int(count)):
            raise UsageError(f"--shard {spec!r}: expected I/N with 1 <= I <= N, e.g. 1/4")
        return cls(int(index), int(count))

    def holds(self, name: str) -> bool:
        return shard_of(name, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(name: str, count: int) -> int:
    """The shard (1…count) the bundle file ``name`` belongs to."""
    return 1 + int(hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16], 16) % count


def fleet_files(directory: Path, shard: Shard | None = None) -> list[str]:
    """The paths of the ``*.json`` bundles of ``directory`` in name order, only ``shard``'s
    when given (which may be none of them: an empty shard is a valid, empty report). Plain
    strings: a list of 100,000 `Path` objects costs a second to build and ~40 MB to hold."""
    return fleet_listing(directory, shard).files


@dataclass(frozen=True)
class Listing:
    """The ``*.json`` bundles of ``--facts DIR``: the paths to judge (``--shard``'s only, when
    given), how many the directory holds, and for a shard the digest of the whole listing."""

    files: list[str]
    count: int
    digest: str | None = None


def fleet_listing(directory: Path, shard: Shard | None = None) -> Listing:
    """`fleet_files` with what ties a shard to its run: a shard lists every bundle to find its
    own, and digests that listing (`listing_digest`)."""
    with os.scandir(directory) as entries:
        names = sorted(e.name for e in entries if e.name.endswith(".json") and e.name != ".json" and e.is_file())
    if not names:
        raise WfgyError("no bundles", [Problem(directory.as_posix(), "no *.json fact bundles in this directory")])
    files = [os.path.join(directory, name) for name in names if shard is None or shard.holds(name)]
    return Listing(files, len(names), listing_digest(directory, names) if shard is not None else None)


def listing_digest(directory: Path, names: list[str]) -> str:
    """``sha256:`` + the sha256 of the lines ``NAME SIZE MTIME_NS\\n``, one per bundle file in
    name order: what every shard of one run sees in the directory when it starts. A bundle
    gathered again (even to the same size) changes it, so a shard of yesterday's run does not
    pass for one of today's; a copy of the directory must keep modification times (``rsync -a``,
    ``cp -p``, ``tar``)."""
    digest = hashlib.sha256()
    for name in names:
        path = os.path.join(directory, name)
        try:
            found = os.stat(path)
        except OSError as exc:
            raise WfgyError("cannot list", [Problem(path, f"cannot read: {exc.strerror or exc}")]) from None
        digest.update(f"{name} {found.st_size} {found.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class RunIdentity:
    """What ties a shard's report to one run, in its closing line as ``run``: the listing of
    ``--facts DIR`` (`listing_digest`, and how many bundles it holds), the config
    (`config_digest`), the selection (``--only``, ``--skip``; the stage and the policy digest
    are in the closing line already) and ``--force``. `merge` refuses shards that differ in
    any of them (`wfgy_rules.reporters.shard_reports`)."""

    listing_digest: str | None
    listed_bundles: int
    config_digest: str
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    force: bool = False

    @classmethod
    def of(cls, listing: Listing, config, only: Iterable[str], skip: Iterable[str], force: bool) -> RunIdentity:
        return cls(listing.digest, listing.count, config_digest(config), tuple(sorted(set(only))), tuple(sorted(set(skip))), force)

    def as_json(self) -> dict[str, Any]:
        return {"listing_digest": self.listing_digest, "listed_bundles": self.listed_bundles, "config_digest": self.config_digest,
                "selection": {"only": list(self.only), "skip": list(self.skip)}, "force": self.force}


_NOT_SETTINGS = ("path", "base_dir", "document")  # where the config was read from, not what it says


def config_digest(config) -> str:
    """``sha256:`` + the sha256 of the run's settings (every field of the `Config`, CLI flags
    such as ``--fail-on`` and ``--policy`` applied) as canonical JSON: the same on every
    machine that reads the same settings, wherever the file lies. Only the digest is written:
    a value in the config never reaches a report."""
    settings = {f.name: getattr(config, f.name) for f in fields(config) if f.name not in _NOT_SETTINGS}
    text = json.dumps(_canonical(settings), separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def _canonical(value: Any) -> Any:
    """``value`` as JSON can hold it, mappings as sorted [key, value] pairs (keys of any type)."""
    if isinstance(value, dict):
        return sorted(([str(key), _canonical(item)] for key, item in value.items()), key=lambda pair: pair[0])
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.name
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@dataclass(frozen=True)
class Judged:
    """One bundle judged: its file name (None for a single bundle), digest, and one verdict
    per rule (in report order, results without a target)."""

    target: str | None
    digest: str
    verdicts: tuple[Verdict, ...]

    @cached_property
    def results(self) -> tuple[Result, ...]:
        """Every result, in report order, naming the bundle's file (``target``)."""
        flat = [result for verdict in self.verdicts for result in verdict.results]
        if self.target is None:
            return tuple(flat)
        return tuple(replace(result, target=self.target) for result in flat)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for verdict in self.verdicts:
            for status, count in verdict.counts:
                counts[status] = counts.get(status, 0) + count
        return counts

    @property
    def blocking(self) -> bool:
        return any(verdict.blocking for verdict in self.verdicts)


@dataclass(frozen=True)
class Plan:
    """What judging one bundle needs; built once per run (and inherited by pool workers,
    each remembering its own verdicts)."""

    rules: tuple[Rule, ...]  # in report order
    fail_on: Severity
    active_waivers: tuple[dict[str, Any], ...]
    warnings: tuple[Result, ...]  # one per stale waiver: reported once per run, not per bundle
    base_dir: Path
    verdicts: Verdicts = field(default_factory=Verdicts, compare=False, repr=False)

    @classmethod
    def of(cls, config, rules: Iterable[Rule], all_rules: Iterable[Rule], today: date | None = None) -> Plan:
        active, warnings = sort_waivers(config, tuple(all_rules), today or date.today())
        marked = tuple(_marked(w, config.fail_on) for w in warnings)
        ordered = tuple(sorted(rules, key=lambda rule: (rule.order, rule.id)))
        return cls(ordered, config.fail_on, tuple(active), marked, config.base_dir)

    @cached_property
    def _groups(self) -> tuple[tuple[tuple[str, ...], tuple[int, ...]], ...]:
        """The rules' positions grouped by the providers they read (one memory lookup a group)."""
        groups: dict[tuple[str, ...], list[int]] = {}
        for position, rule in enumerate(self.rules):
            groups.setdefault(tuple(rule.facts), []).append(position)
        return tuple((facts, tuple(positions)) for facts, positions in groups.items())

    def judge(self, bundle: Bundle) -> Judged:
        """The bundle's verdicts: remembered ones where this process judged the same sections
        before, the others evaluated now (each rule within its time budget)."""
        verdicts: list[Verdict | None] = [None] * len(self.rules)
        missing = []
        for number, (facts, positions) in enumerate(self._groups):
            key = Verdicts.key(number, facts, bundle)
            found = self.verdicts.get(key) if key is not None else None
            if found is None:
                missing.append((key, positions))
                continue
            for position, verdict in zip(positions, found):
                verdicts[position] = verdict
        if missing:
            view = Bundle(bundle.facts, bundle.errors)  # results name no target: verdicts are shared
            with watchdog(rule_seconds()) as watch:
                for key, positions in missing:
                    fresh = [evaluate_within(self.rules[position], view, watch) for position in positions]
                    group = tuple(self._verdict(results) for results in fresh)
                    for position, verdict in zip(positions, group):
                        verdicts[position] = verdict
                    if key is not None and not any(map(stopped, fresh)):
                        self.verdicts.put(key, group)
        return Judged(bundle.target, bundle.digest, tuple(verdicts))

    def _verdict(self, results: list[Result]) -> Verdict:
        results = self._rebase(results)
        results = waive(results, list(self.active_waivers)) if self.active_waivers else results
        marked = [_marked(r, self.fail_on) for r in results]
        return Verdict.of(sorted(marked, key=Result.sort_key) if len(marked) > 1 else marked)

    def _rebase(self, results: list[Result]) -> list[Result]:
        if not any(r.location and not Path(r.location.path).is_absolute() for r in results):
            return results
        return rebase(results, self.base_dir)


def _marked(result: Result, fail_on: Severity) -> Result:
    blocking = is_blocking(result, fail_on)
    return result if result.blocking == blocking else replace(result, blocking=blocking)


@dataclass
class Tally:
    """What the closing lines of a report need, added up bundle by bundle."""

    counts: dict[str, int] = field(default_factory=lambda: {status.value: 0 for status in Status})
    failed: bool = False
    bundles: int = 0
    fleet: bool = False
    _single: str | None = None
    _lines: Any = field(default_factory=hashlib.sha256)

    def add_results(self, results: Iterable[Result]) -> None:
        for result in results:
            self.counts[result.status.value] += 1
            self.failed = self.failed or result.blocking

    def add_bundle(self, target: str | None, digest: str) -> None:
        self.bundles += 1
        if target is None:
            self._single = digest
        else:
            self.fleet = True
            self._lines.update(f"{target} {digest}\n".encode("utf-8", "surrogateescape"))

    def add(self, judged: Judged) -> None:
        self.add_bundle(judged.target, judged.digest)
        self.add_results(judged.results)

    @property
    def facts_digest(self) -> str:
        if not self.fleet and self._single is not None:
            return self._single
        return "sha256:" + self._lines.hexdigest()


def fleet_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """The facts digest of a fleet from its (file name, bundle digest) pairs in name order."""
    tally = Tally(fleet=True)
    for target, digest in pairs:
        tally.add_bundle(target, digest)
    return tally.facts_digest


def default_jobs() -> int:
    """The CPUs this process may run on (its affinity mask, e.g. a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


MIN_PER_WORKER = 8  # fewer bundles than this per worker: starting processes costs more than it saves


def judged(plan: Plan, files: list[str], read: Callable[[str], Bundle], jobs: int = 1,
           finish: Callable[[Judged], Any] = lambda j: j) -> Iterator[Any]:
    """``finish(plan.judge(read(file)))`` for every file, in the order of ``files``.

    With ``jobs`` > 1 (and enough files) the work runs in forked worker processes
    (`wfgy_rules.workers`), each inheriting the compiled plan and the list of files, so
    only ``finish``'s values come back, a range of files at a time (a reporter renders or
    relays its lines there). Ctrl-C or SIGTERM (which `wfgy_rules.cli` turns into the same
    interruption) ends the workers: no child process outlives the run. Hold the generator
    in ``contextlib.closing`` so they end as soon as the interruption comes.
    """
    from wfgy_rules import workers

    if jobs <= 1 or len(files) < 2 * MIN_PER_WORKER or not workers.available():
        for file in files:
            yield finish(plan.judge(read(file)))
        return
    jobs = min(jobs, len(files) // MIN_PER_WORKER)
    step = max(1, min(64, len(files) // (jobs * 8)))

    def work(start: int, stop: int) -> list[Any]:
        done = []
        for file in files[start:stop]:
            try:
                done.append(finish(plan.judge(read(file))))
            except WfgyError as exc:  # a bad bundle: sent back whole, raised here (exit 2)
                done.append(_Failed(exc))
                break
        return done

    with closing(workers.in_order(work, len(files), step, jobs)) as ranges:
        for items in ranges:
            for item in items:
                yield _raised(item)


@dataclass(frozen=True)
class _Failed:
    error: WfgyError


def _raised(item: Any) -> Any:
    """An item from `judged`, or the error a worker met, raised here."""
    if isinstance(item, _Failed):
        raise item.error
    return item
