"""wfgy-rules benchmark suite: every figure against a baseline measured in the same run.

    python bench/run.py [--quick] [--json PATH]

Figures (targets from the performance issue):

1. cold start     `wfgy-rules eval --facts F --policy P --format json`, one rule, vs a plain
                  Python script that loads the same YAML with `yaml` and evaluates the same
                  expression with `jmespath`: wall ≤ 3×, peak RSS ≤ 35 MiB.
2. evaluation     10,000 rules over a 1 MB bundle, warm: ≤ 0.5× jmespath's compiled search.
3. load+compile   10,000 rules from a policy file ≤ 2.0× `jmespath.compile` of the same
                  expressions (no cache); re-run with WFGY_CACHE_DIR warm ≤ 1.0×.
4. prompt scan    10,000 files / 100 MB, ~1 % with placeholders: the prompts provider ≤ 3×
                  `rg -n '\\{\\{|\\$\\{'`; serial and parallel results identical.
5. fleet          `eval --facts DIR` over 1,000 bundles with the built-in packs ≤ 1.3×
                  (1,000 × one in-process evaluation: read the bundle, judge it, render its
                  JSON report); peak RSS growth from 250 to 1,000 bundles.
6. preflight      `preflight -- true` on the example project ≤ 2× the cold `eval` of it.
4b. prompt jobs  the prompts provider over 50,000 files / 100 MB with `workers: 2` ≤ 0.6× `workers: 1`.
7. fleet at scale `eval --facts DIR --format jsonl` over 100,000 bundles (built-in packs):
                  peak RSS ≤ 150 MiB, ≤ 0.3 ms a bundle serially (the `--format json` report's
                  time a bundle printed beside it), `--jobs 2` ≤ 0.6× `--jobs 1`; and the time a
                  bundle when every section differs (the worst case: nothing to reuse).
9. serving fit    the `serving` facts of a 30-shard Llama-3.1-70B (140 GB, sparse: headers only)
                  — launch, shape, weights, fit — < 50 ms; the baseline reads the same 30
                  headers with `struct` and `json.loads` and nothing else.
8. bundle read    `read_bundle` of a 50 MB bundle (WFGY_MAX_FILE_BYTES raised) ≥ 60 MB/s: ratio
                  to stdlib `json.loads` of the same text ≥ 0.75 (printed as json.loads / ours ≤ 1.33).

    python bench/run.py --only fleet-scale [--bundles N]   # one figure (names: the step labels)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ scripts import each other

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLI = str(BIN / "wfgy-rules")
SEED = 20261127
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "WFGY_CACHE_DIR")} | {"NO_COLOR": "1"}


def run_process(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env or ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def median_process(cmd, repeats: int, **kwargs) -> tuple[float, float]:
    runs = [run_process(cmd, **kwargs) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def timed(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def settle() -> None:
    """Write generated inputs out before timing anything: the kernel flushing hundreds of MB
    of dirty pages in the background would otherwise take CPU from whichever figure comes next."""
    os.sync()


def figure(name, ours, baseline, target, unit="s", extra=None):
    ratio = ours / baseline if baseline else float("inf")
    return {"figure": name, "ours": round(ours, 6), "baseline": round(baseline, 6), "ratio": round(ratio, 3),
            "target": target, "met": ratio <= target, "unit": unit, **(extra or {})}


# 1. cold start -------------------------------------------------------------------------
ONE_RULE = """apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: one}
rules:
  - id: one.max-len
    title: max length fits
    severity: high
    facts: [file]
    assert: "file.serving.max_model_len <= `4096`"
"""
BASELINE_SCRIPT = """import json, sys, yaml, jmespath
doc = yaml.safe_load(open(sys.argv[1]))
facts = json.load(open(sys.argv[2]))
print(json.dumps({"result": jmespath.search(doc["rules"][0]["assert"], facts)}))
"""


def cold_start(work: Path, repeats: int) -> list[dict]:
    (work / "one.yaml").write_text(ONE_RULE)
    (work / "facts.json").write_text(json.dumps({"file": {"serving": {"max_model_len": 2048}}}))
    (work / "baseline.py").write_text(BASELINE_SCRIPT)
    ours_cmd = [CLI, "eval", "--facts", "facts.json", "--policy", "one.yaml", "--format", "json"]
    base_cmd = [sys.executable, "baseline.py", "one.yaml", "facts.json"]
    run_process(ours_cmd, cwd=work)  # writes bytecode caches, as any installed tool has them
    run_process(base_cmd, cwd=work)
    ours, rss = median_process(ours_cmd, repeats, cwd=work)
    base, base_rss = median_process(base_cmd, repeats, cwd=work)
    return [
        figure("cold start: eval wall", ours, base, 3.0),
        {"figure": "cold start: eval peak RSS", "ours": round(rss, 1), "baseline": round(base_rss, 1),
         "ratio": round(rss / base_rss, 3), "target": "≤ 35 MiB", "met": rss <= 35, "unit": "MiB"},
    ]


# 2 + 3. evaluation and load+compile ----------------------------------------------------
def policy_expressions(n_rules: int) -> list[str]:
    """Distinct expressions over the `file` provider (a policy can name it in `facts`)."""
    rng = random.Random(SEED)
    exprs = []
    for n in range(n_rules):
        item = f"file.g{rng.randrange(200)}.k{rng.randrange(5000)}"
        kind = n % 20
        if kind < 8:
            exprs.append(f"{item}.value > `{rng.randint(0, 100)}`")
        elif kind < 12:
            exprs.append(f"{item}.enabled && {item}.name != 'x{n}'")
        elif kind < 14:
            exprs.append(f"contains({item}.tags, 't{rng.randint(0, 9)}')")
        elif kind < 16:
            exprs.append(f"length({item}.tags) > `{n % 4}` || {item}.value == `{n}`")
        elif kind < 17:
            exprs.append(f"version_cmp({item}.version, '2.{n % 10}') >= `0`")
        else:
            exprs.append(f"length(values(file.g{n % 200})[?value > `{rng.randint(0, 100)}`]) > `{n % 3}`")
    return exprs


def evaluation(n_rules: int, bundle_mb: float, repeats: int) -> list[dict]:
    """Delegates to `eval_throughput` (its own script for a closer look, e.g. ``--by-shape``)."""
    import eval_throughput

    rng = random.Random(SEED)
    bundle = eval_throughput.build_bundle(rng, bundle_mb)
    numbers = eval_throughput.measure(eval_throughput.build_rules(rng, bundle, n_rules), bundle, repeats)
    return [figure(f"evaluation: {n_rules} rules over {bundle_mb:g} MB (warm)", numbers["eval_ours_s"], numbers["eval_baseline_s"], 0.5,
                   extra={"per_rule_us": round(numbers["eval_ours_s"] / n_rules * 1e6, 2)})]


def load_compile(work: Path, n_rules: int, repeats: int) -> list[dict]:
    import yaml

    exprs = policy_expressions(n_rules)
    rules = [{"id": f"bench.rule-{i}", "title": f"rule {i}", "severity": "high", "facts": ["file"], "assert": e,
              "remedy": {"action": "abort"}} for i, e in enumerate(exprs)]
    policy = work / "big-policy.yaml"
    policy.write_text(yaml.safe_dump({"apiVersion": "wfgy-rules/v1", "kind": "Policy", "metadata": {"name": "big"}, "rules": rules}, sort_keys=False))
    cache = work / "cache"
    script = ("import sys, time; from pathlib import Path; from wfgy_rules.policy.loader import load_policies; "
              "t = time.perf_counter(); load_policies([sys.argv[1]], Path('.')); print(time.perf_counter() - t)")
    env = ENV | {"WFGY_CACHE_DIR": str(cache)}
    cold = float(subprocess.run([sys.executable, "-c", script, str(policy)], env=ENV, capture_output=True, text=True, check=True).stdout)
    subprocess.run([sys.executable, "-c", script, str(policy)], env=env, check=True, capture_output=True)  # fills the cache
    warm = statistics.median(float(subprocess.run([sys.executable, "-c", script, str(policy)], env=env, capture_output=True, text=True, check=True).stdout) for _ in range(repeats))
    base_script = ("import sys, time, jmespath; exprs = open(sys.argv[1]).read().splitlines(); "
                   "t = time.perf_counter(); [jmespath.compile(e) for e in exprs]; print(time.perf_counter() - t)")
    (work / "exprs.txt").write_text("\n".join(exprs))
    base = statistics.median(float(subprocess.run([sys.executable, "-c", base_script, str(work / "exprs.txt")], env=ENV, capture_output=True, text=True, check=True).stdout) for _ in range(repeats))
    return [figure(f"load+compile {n_rules} rules (cache warm)", warm, base, 1.0),
            figure(f"load+compile {n_rules} rules (no cache)", cold, base, 2.0)]


# 4. prompt scanning --------------------------------------------------------------------
def make_corpus(root: Path, files: int, total_mb: float) -> None:
    rng = random.Random(SEED)
    words = "the customer order refund shipping support assistant please answer politely and concisely".split()
    per_file = int(total_mb * 1_000_000 / files)
    for i in range(files):
        directory = root / f"d{i % 100:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        lines, size = [], 0
        while size < per_file:
            line = " ".join(rng.choice(words) for _ in range(12))
            lines.append(line)
            size += len(line) + 1
        if i % 100 == 0:
            lines[len(lines) // 2] += " Dear {{ customer_name }}, order ${ORDER_ID} is ready."
        (directory / f"p{i:05d}.txt").write_text("\n".join(lines) + "\n")


def scanner(corpus: Path, files: int, total_mb: float):
    """The prompts provider and its context over a fresh corpus of ``files`` files."""
    from wfgy_rules.providers.base import ProviderContext
    from wfgy_rules.providers.prompts.prompts import PromptsProvider

    make_corpus(corpus, files, total_mb)
    settle()
    return PromptsProvider(), ProviderContext(base_dir=corpus, environ={})


def prompt_scan(work: Path, files: int, total_mb: float, repeats: int) -> list[dict]:
    if not shutil.which("rg"):
        return [{"figure": "prompt scan", "skipped": "rg (ripgrep) not installed: apt-get install ripgrep"}]
    corpus = work / "corpus"
    provider, ctx = scanner(corpus, files, total_mb)
    serial = provider.collect({"paths": ["**/*"], "workers": 1}, ctx)
    auto = provider.collect({"paths": ["**/*"]}, ctx)
    parallel = provider.collect({"paths": ["**/*"], "workers": 2}, ctx)
    identical = json.dumps(serial, sort_keys=True) == json.dumps(parallel, sort_keys=True) == json.dumps(auto, sort_keys=True)
    ours = timed(lambda: provider.collect({"paths": ["**/*"]}, ctx), repeats)
    rg = [shutil.which("rg"), "-n", r"\{\{|\$\{", str(corpus)]
    base = statistics.median(run_process(rg)[0] for _ in range(repeats))
    return [figure(f"prompt scan: {files} files / {total_mb:g} MB", ours, base, 3.0,
                   extra={"serial_equals_parallel": identical, "undeclared_found": len(serial["undeclared"])})]


def prompt_scan_jobs(work: Path, files: int, total_mb: float, repeats: int) -> list[dict]:
    """The prompts provider over ``files`` files with ``workers: 2`` against ``workers: 1``."""
    provider, ctx = scanner(work / "corpus-jobs", files, total_mb)
    serial = provider.collect({"paths": ["**/*"], "workers": 1}, ctx)
    identical = json.dumps(serial) == json.dumps(provider.collect({"paths": ["**/*"], "workers": 2}, ctx))
    one = timed(lambda: provider.collect({"paths": ["**/*"], "workers": 1}, ctx), repeats)
    two = timed(lambda: provider.collect({"paths": ["**/*"], "workers": 2}, ctx), repeats)
    return [figure(f"prompt scan: {files} files, workers 2 vs 1", two, one, 0.6,
                   extra={"identical": identical, "cpus": len(os.sched_getaffinity(0))})]


# 5. fleet ------------------------------------------------------------------------------
def fleet(work: Path, bundles: int, repeats: int) -> list[dict]:
    from wfgy_rules.documents.fact_bundles import read_bundle
    from wfgy_rules.run.session import open_session

    example = REPO / "policies.example"
    done = subprocess.run([CLI, "facts", "--config", str(example / "wfgy.yaml")], env=ENV, capture_output=True, text=True, check=True)
    template = json.loads(done.stdout)

    def make(directory: Path, count: int) -> None:
        directory.mkdir(exist_ok=True)
        for i in range(count):
            bundle = json.loads(json.dumps(template))
            bundle.setdefault("nvml", {})["driver_version"] = f"535.{i % 200}.05"
            (directory / f"node-{i:05d}.json").write_text(json.dumps(bundle))

    many, few = work / "fleet", work / "fleet-quarter"
    make(many, bundles)
    make(few, max(1, bundles // 4))
    settle()
    cmd = [CLI, "eval", "--policy", "builtin", "--facts", str(many), "--format", "json"]
    ours, rss = median_process(cmd, repeats)
    _, rss_few = median_process([CLI, "eval", "--policy", "builtin", "--facts", str(few), "--format", "json"], 1)
    from wfgy_rules.reporters import Report, render
    from wfgy_rules.run.session import judge

    session = open_session(None, ["builtin"])
    sample = sorted(many.iterdir())[:50]

    def one_by_one() -> None:  # what a caller does per bundle in-process: read, judge, report
        for path in sample:
            outcome, digest = judge(session, iter([read_bundle(path)]), False)
            render(Report(outcome, session.rules, session.policy_set.digest, digest), "json")

    one_by_one()
    per = timed(one_by_one, max(repeats, 3)) / len(sample)
    return [figure(f"fleet: eval --facts DIR, {bundles} bundles", ours, per * bundles, 1.3,
                   extra={"peak_rss_mib": round(rss, 1), "peak_rss_mib_quarter": round(rss_few, 1)})]


# 7. fleet at scale --------------------------------------------------------------------
def fleet_scale(work: Path, bundles: int) -> list[dict]:
    """Whole-process wall time and peak RSS of `eval --facts DIR --format jsonl` over
    ``bundles`` bundles of the example project's facts, each with its own file name and one of
    200 driver versions (what nodes of one deployment look like: most sections repeat), serially
    and with ``--jobs 2``; the in-memory ``json`` report over a tenth of them (it holds every
    result: 100,000 would take gigabytes) is the per-bundle baseline. A second fleet, whose
    every section differs from bundle to bundle (nothing for `run.verdicts` to reuse), shows
    the worst case."""
    example = REPO / "policies.example"
    done = subprocess.run([CLI, "facts", "--config", str(example / "wfgy.yaml")], env=ENV, capture_output=True, text=True, check=True)
    template = json.loads(done.stdout)
    directory, tenth, distinct = work / "fleet-scale", work / "fleet-scale-tenth", work / "fleet-scale-distinct"
    for folder, count, unique in ((directory, bundles, False), (tenth, max(1, bundles // 10), False), (distinct, max(1, bundles // 10), True)):
        folder.mkdir(exist_ok=True)
        for i in range(count):
            bundle = json.loads(json.dumps(template)) if unique else template
            bundle.setdefault("nvml", {})["driver_version"] = f"535.{i % 200}.05"
            if unique:
                for name, section in bundle.items():
                    section["bench_node"] = i  # a field no rule reads: the section's text is new
            (folder / f"node-{i:06d}.json").write_text(json.dumps(bundle))
    settle()
    base = [CLI, "eval", "--policy", "builtin", "-o", os.devnull]
    json_s, json_rss = run_process([*base, "--facts", str(tenth), "--format", "json", "--jobs", "1"])
    serial, serial_rss = run_process([*base, "--facts", str(directory), "--format", "jsonl", "--jobs", "1"])
    jobs2, jobs2_rss = run_process([*base, "--facts", str(directory), "--format", "jsonl", "--jobs", "2"])
    worst, _ = run_process([*base, "--facts", str(distinct), "--format", "jsonl", "--jobs", "1"])
    ms = lambda seconds, count: seconds / count * 1000  # noqa: E731
    per_json, per_jsonl, per_worst = ms(json_s, bundles // 10), ms(serial, bundles), ms(worst, bundles // 10)
    return [
        {"figure": f"fleet: jsonl ms a bundle, {bundles} bundles, --jobs 1", "ours": round(per_jsonl, 3), "baseline": round(per_json, 3),
         "ratio": round(per_jsonl / per_json, 3), "target": "≤ 0.3 ms", "met": per_jsonl <= 0.3, "unit": "ms",
         "note": "baseline: json report, a tenth of the bundles"},
        {"figure": "fleet: jsonl ms a bundle, every section distinct", "ours": round(per_worst, 3), "baseline": round(per_json, 3),
         "ratio": round(per_worst / per_json, 3), "target": "-", "met": True, "unit": "ms"},
        {"figure": f"fleet: jsonl peak RSS, {bundles} bundles", "ours": round(serial_rss, 1), "baseline": round(json_rss, 1),
         "ratio": round(serial_rss / json_rss, 3), "target": "≤ 150 MiB", "met": serial_rss <= 150 and jobs2_rss <= 150, "unit": "MiB",
         "peak_rss_mib_jobs2": round(jobs2_rss, 1)},
        figure(f"fleet: --jobs 2 vs --jobs 1, {bundles} bundles (wall)", jobs2, serial, 0.6,
               extra={"cpus": len(os.sched_getaffinity(0)), "load_average": os.getloadavg()[0]}),
    ]


# 8. bundle read -------------------------------------------------------------------------
def bundle_read(work: Path, megabytes: float, repeats: int) -> list[dict]:
    import hashlib

    rng = random.Random(SEED)
    files, size, i = {}, 0, 0
    while size < megabytes * 1_000_000:
        entry = {"placeholders": [f"v{j}" for j in range(rng.randrange(5))], "size": rng.randrange(10**6),
                 "sha256": hashlib.sha256(str(i).encode()).hexdigest(), "declared": rng.random() < 0.5,
                 "lines": [{"line": k, "text": "Dear {{ customer }}, " * rng.randrange(1, 8)} for k in range(3)]}
        files[f"prompts/d{i % 100}/p{i:06d}.txt"] = entry
        size += len(json.dumps(entry)) + 40
        i += 1
    path = work / "big-bundle.json"
    path.write_text(json.dumps({"prompts": {"files": files}}, indent=1))
    settle()
    size = path.stat().st_size
    # each side timed in a fresh process (interpreter start not counted): the collector's state
    # after other figures' work would otherwise favour whichever side runs second
    ours_script = ("import sys, time; from pathlib import Path; from wfgy_rules.documents.fact_bundles import read_bundle; "
                   "t = time.perf_counter(); read_bundle(Path(sys.argv[1])).digest; print(time.perf_counter() - t)")
    base_script = ("import sys, time, json; t = time.perf_counter(); "
                   "json.loads(open(sys.argv[1], 'rb').read().decode()); print(time.perf_counter() - t)")
    env = ENV | {"WFGY_MAX_FILE_BYTES": str(size + 1)}

    def seconds(script: str) -> float:
        done = subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True, check=True)
        return float(done.stdout)

    ours = statistics.median(seconds(ours_script) for _ in range(repeats))
    base = statistics.median(seconds(base_script) for _ in range(repeats))
    return [figure(f"bundle read: {size / 1e6:.0f} MB bundle (json.loads = baseline)", ours, base, 1.33,
                   extra={"mb_per_s": round(size / ours / 1e6, 1), "json_loads_mb_per_s": round(size / base / 1e6, 1)})]


# 6. preflight --------------------------------------------------------------------------
def preflight(work: Path, repeats: int) -> list[dict]:
    project = work / "example"
    shutil.copytree(REPO / "policies.example", project)
    # the example fails on purpose (tokenizer skew): accept it so preflight reaches `exec true`
    run_process([CLI, "lock"], cwd=project)
    prompt = project / "prompts" / "support.jinja"
    prompt.write_text(prompt.read_text().replace("{{ ticket_id }}", "{{ ticket_id | default('n/a') }}"))
    eval_cmd = [CLI, "eval"]
    pre_cmd = [CLI, "preflight", "--", "true"]
    run_process(pre_cmd, cwd=project)
    ours, _ = median_process(pre_cmd, repeats, cwd=project)
    base, _ = median_process(eval_cmd, repeats, cwd=project)
    return [figure("preflight -- true vs cold eval (example project)", ours, base, 2.0)]


def serving_fit(work: Path, repeats: int) -> list[dict]:
    import struct

    sys.path.insert(0, str(REPO))
    from tests.sparse_checkpoints import write_checkpoint
    from wfgy_rules.providers.model.shape import model_shape
    from wfgy_rules.providers.model.weights import weight_facts
    from wfgy_rules.providers.serving.fit import fit_facts
    from wfgy_rules.providers.serving.launch import parse_launch

    model = work / "llama-3.1-70b"
    config = json.loads((REPO / "tests" / "corpus" / "serving" / "model_configs" / "llama-3.1-70b" / "config.json").read_text())
    write_checkpoint(model, config, shards=30)
    gpus = {"devices": [{"index": i, "memory_total_mib": 81920, "compute_capability": "8.0"} for i in range(4)],
            "min_compute_capability": "8.0"}

    def ours():
        launch = parse_launch(["vllm", "serve", str(model), "-tp", "4"], {})
        shape = model_shape(json.loads((model / "config.json").read_text()))
        fit_facts(launch, shape, weight_facts(model), gpus)

    def headers():
        for shard in sorted(model.glob("*.safetensors")):
            with shard.open("rb") as stream:
                (size,) = struct.unpack("<Q", stream.read(8))
                json.loads(stream.read(size))

    mine, base = timed(ours, repeats), timed(headers, repeats)
    row = figure("serving facts, 30-shard 70B vs reading its headers", mine, base, float("inf"))
    return [{**row, "target": "< 50 ms", "met": mine < 0.05}]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny inputs: checks the harness only")
    parser.add_argument("--only", action="append", help="run only this step (repeatable): the labels printed, e.g. fleet-scale")
    parser.add_argument("--bundles", type=int, default=None, help="bundles for fleet-scale (default 100,000; --quick 300)")
    parser.add_argument("--json", default=str(REPO / "bench" / "out" / "results.json"), help="where to write the table as JSON")
    args = parser.parse_args()
    q = args.quick
    repeats = 3 if q else 9
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="wfgy-bench-") as tmp:
        work = Path(tmp)
        steps = [
            ("cold start", lambda: cold_start(work, repeats)),
            ("evaluation", lambda: evaluation(200 if q else 10_000, 0.02 if q else 1.0, repeats)),
            ("load+compile", lambda: load_compile(work, 200 if q else 10_000, 3)),
            ("prompt scan", lambda: prompt_scan(work, 100 if q else 10_000, 1 if q else 100, 3)),
            ("prompt-scan-jobs", lambda: prompt_scan_jobs(work, 200 if q else 50_000, 1 if q else 100, 3)),
            ("fleet", lambda: fleet(work, 20 if q else 1000, 3)),
            ("preflight", lambda: preflight(work, repeats)),
            ("fleet-scale", lambda: fleet_scale(work, args.bundles or (300 if q else 100_000))),
            ("bundle-read", lambda: bundle_read(work, 2 if q else 50, 3)),
            ("serving-fit", lambda: serving_fit(work, repeats)),
        ]
        for label, step in steps:
            if args.only and label not in args.only:
                continue
            print(f"… {label}", file=sys.stderr, flush=True)
            try:
                rows.extend(step())
            except Exception as exc:  # a broken figure is reported, the others still run
                rows.append({"figure": label, "error": f"{type(exc).__name__}: {exc}"})
    print_table(rows)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"quick": q, "python": sys.version.split()[0], "results": rows}, indent=2) + "\n")
    print(f"\nwritten: {out}")
    return 1 if any("error" in r for r in rows) else 0


def print_table(rows: list[dict]) -> None:
    header = f"{'figure':58} {'ours':>10} {'baseline':>10} {'ratio':>7} {'target':>9}  met"
    print(header)
    print("-" * len(header))
    for r in rows:
        if "error" in r or "skipped" in r:
            print(f"{r['figure']:58} {r.get('error') or r.get('skipped')}")
            continue
        target = r["target"] if isinstance(r["target"], str) else ("-" if r["target"] == float("inf") else f"≤ {r['target']}×")
        print(f"{r['figure']:58} {r['ours']:>10.4g} {r['baseline']:>10.4g} {r['ratio']:>7.3g} {target:>9}  {'yes' if r['met'] else 'NO'}")


if __name__ == "__main__":
    sys.exit(main())
