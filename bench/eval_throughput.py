"""Expression throughput: our compiled closures (`Expr.search`) against jmespath's interpreter.

    python bench/eval_throughput.py [--rules N] [--bundle-mb M] [--runs R] [--seed S] [--by-shape] [--json OUT]

Builds a fact bundle of about M MB and N distinct rule expressions with a fixed seed (a mix of
field chains, comparisons with literals, ``&&``/``||``, ``length(x) > `0```, ``contains(...)``,
version functions on ~5 % and filters on ~10 %), then reports the median of R warm runs of

* evaluation: every expression once over the bundle, in rule order as the engine does, with
  ``jmespath.compile(e)`` prepared once and ``.search(bundle, options)`` as the baseline
  (``options`` carries our custom functions), against `Expr.search`;
* compilation: ``jmespath.compile`` of all N against our `compile_expr` of all N, with
  jmespath's parse cache (``jmespath.parser.Parser._CACHE``) cleared before each run.

``--by-shape`` adds the evaluation time of each shape of expression, timed group by group.
The ratios are ours / baseline: the targets are <= 0.5 for evaluation and <= 1.0 for compiling.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import string
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jmespath  # noqa: E402
from jmespath.parser import Parser  # noqa: E402
from jmespath.visitor import Options  # noqa: E402

from wfgy_rules.policy.expressions import compile_expr  # noqa: E402
from wfgy_rules.policy.functions import FUNCTIONS  # noqa: E402

OPTIONS = Options(custom_functions=FUNCTIONS)
DTYPES = ["bf16", "fp16", "fp32", "int8", "fp8"]
PACKAGES = ["torch", "transformers", "vllm", "numpy", "tokenizers", "accelerate", "safetensors", "triton", "xformers", "flash_attn"]


# --- the bundle --------------------------------------------------------------------------------


def _word(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def _version(rng: random.Random) -> str:
    return f"{rng.randint(0, 12)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}"


def build_bundle(rng: random.Random, megabytes: float) -> dict[str, Any]:
    """A bundle shaped like the providers' facts, grown to about ``megabytes`` of JSON."""
    bundle: dict[str, Any] = {
        "model_card": {
            "present": True,
            "declared": {"requires_gpu": True, "dtype": "bf16", "context_length": 8192, "min_vram_gb": 24, "cuda": "12.1"},
            "tags": ["llm", "chat", "bf16"],
        },
        "runtime": {"python": "3.11.7", "dtype": "bf16", "packages": {p: _version(rng) for p in PACKAGES}, "flags": ["--tp=2", "--quant=none"]},
        "nvml": {"available": True, "device_count": 2, "driver": "535.104.05", "cuda": "12.2",
                 "devices": [{"index": i, "name": "H100", "memory_gb": 80, "free_gb": rng.randint(1, 80)} for i in range(8)]},
        "env": {"missing": [], "empty": [], "near_misses": [], "vars": {}},
        "file": {"entries": []},
        "services": {},
        "params": {"min_free_gb": 16, "max_files": 1000},
    }
    env_vars = bundle["env"]["vars"]
    services = bundle["services"]
    entries = bundle["file"]["entries"]
    target = int(megabytes * 1_000_000)
    size = len(json.dumps(bundle))
    i = 0
    while size < target:
        name = f"svc_{i:04d}"
        services[name] = {
            "name": name,
            "enabled": rng.random() < 0.8,
            "port": rng.randint(1024, 65535),
            "replicas": rng.randint(0, 8),
            "dtype": rng.choice(DTYPES),
            "version": _version(rng),
            "labels": [_word(rng, 5) for _ in range(rng.randint(0, 4))],
            "limits": {"cpu": rng.randint(1, 32), "memory_gb": rng.randint(1, 256), "gpu": rng.randint(0, 8)},
            "owner": {"team": _word(rng, 6), "oncall": rng.random() < 0.5},
        }
        env_vars[f"VAR_{i:04d}"] = _word(rng, rng.randint(0, 16))
        entries.append({"path": f"src/{_word(rng, 6)}/{_word(rng, 8)}.py", "size": rng.randint(0, 200_000),
                        "line": rng.randint(1, 900), "kind": rng.choice(["py", "yaml", "json", "md"])})
        size += len(json.dumps(services[name])) + len(json.dumps(entries[-1])) + 40
        i += 1
    return bundle


# --- the rules ---------------------------------------------------------------------------------


def build_rules(rng: random.Random, bundle: dict[str, Any], count: int) -> list[tuple[str, str]]:
    """``count`` distinct ``(shape, expression)`` pairs in a fixed mix of the shapes policies use."""
    services = list(bundle["services"])
    variables = list(bundle["env"]["vars"])
    weights = [weight for weight, _ in SHAPES.values()]
    names = list(SHAPES)
    seen: set[str] = set()
    rules: list[tuple[str, str]] = []
    while len(rules) < count:
        shape = rng.choices(names, weights)[0]
        text = SHAPES[shape][1](rng, services, variables)
        if text not in seen:
            seen.add(text)
            rules.append((shape, text))
    return rules


def _svc(rng, services):
    # A few per cent of names miss: the expression then reads null all the way down.
    return rng.choice(services) if rng.random() < 0.97 else f"svc_x{rng.randint(0, 9999)}"


def _field_chain(rng, services, variables):
    svc = _svc(rng, services)
    return rng.choice([
        f"services.{svc}.limits.{rng.choice(['cpu', 'memory_gb', 'gpu'])}",
        f"services.{svc}.owner.{rng.choice(['team', 'oncall'])}",
        f"services.{svc}.{rng.choice(['port', 'enabled', 'dtype', 'name'])}",
        f"env.vars.{rng.choice(variables)}",
        f"runtime.packages.{rng.choice(PACKAGES)}",
    ])


def _comparison(rng, services, variables):
    svc = _svc(rng, services)
    return rng.choice([
        f"services.{svc}.port >= `{rng.randint(1000, 60000)}`",
        f"services.{svc}.limits.memory_gb < `{rng.randint(1, 256)}`",
        f"services.{svc}.replicas > `{rng.randint(0, 8)}`",
        f"services.{svc}.dtype == '{rng.choice(DTYPES)}'",
        f"services.{svc}.enabled == `{rng.choice(['true', 'false'])}`",
        f"env.vars.{rng.choice(variables)} != ''",
        f"services.{svc}.limits.gpu <= nvml.device_count",
    ])


def _boolean(rng, services, variables):
    a, b = _svc(rng, services), _svc(rng, services)
    return rng.choice([
        f"services.{a}.enabled && services.{a}.replicas > `{rng.randint(0, 8)}`",
        f"services.{a}.dtype == 'bf16' || services.{b}.dtype == '{rng.choice(DTYPES)}'",
        f"!services.{a}.owner.oncall && services.{b}.port < `{rng.randint(1024, 65535)}`",
        f"model_card.present && services.{a}.limits.gpu >= `{rng.randint(0, 8)}` && nvml.available",
        f"services.{a}.replicas == `0` || services.{a}.limits.cpu > `{rng.randint(1, 32)}`",
    ])


def _length(rng, services, variables):
    svc = _svc(rng, services)
    return rng.choice([
        f"length(services.{svc}.labels) > `{rng.randint(0, 3)}`",
        f"length(env.vars.{rng.choice(variables)}) > `0`",
        f"length(services.{svc}.name) >= `{rng.randint(1, 9)}`",
    ])


def _contains(rng, services, variables):
    svc = _svc(rng, services)
    return rng.choice([
        f"contains(services.{svc}.labels, '{_word(rng, 5)}')",
        f"contains(model_card.tags, '{rng.choice(DTYPES)}') || contains(services.{svc}.labels, 'x')",
        f"contains(runtime.flags, '--tp={rng.randint(1, 99)}')",
        f"starts_with(services.{svc}.dtype, '{rng.choice(['bf', 'fp', 'int'])}')",
    ])


def _version_call(rng, services, variables):
    svc = rng.choice(services)  # always there: a missing version is an error result, tested elsewhere
    return rng.choice([
        f"version_cmp(runtime.packages.{rng.choice(PACKAGES)}, '{_version(rng)}') >= `0`",
        f"version_satisfies(services.{svc}.version, '>={_version(rng)}')",
        f"version_drift(services.{svc}.version, runtime.packages.{rng.choice(PACKAGES)}) != 'major'",
    ])


def _filter(rng, services, variables):
    return rng.choice([
        f"length(file.entries[?size > `{rng.randint(0, 200_000)}`]) > `0`",
        f"file.entries[?kind == '{rng.choice(['py', 'yaml', 'json', 'md'])}' && line > `{rng.randint(1, 900)}`].path | length(@) < `{rng.randint(1, 500)}`",
        f"nvml.devices[?free_gb < `{rng.randint(1, 80)}`].index",
        f"length(nvml.devices[?memory_gb >= `{rng.randint(1, 100)}`]) == nvml.device_count",
    ])


def _misc(rng, services, variables):
    svc = _svc(rng, services)
    return rng.choice([
        f"keys(services.{svc}.limits)",
        f"services.{svc}.[port, replicas, dtype]",
        f"services.{svc}.{{p: port, d: dtype, n: `{rng.randint(0, 99)}`}}",
        f"nvml.devices[*].free_gb | max(@) > `{rng.randint(1, 80)}`",
        f"sort_by(nvml.devices, &free_gb)[{rng.randint(-8, 7)}].index",
        f"services.{svc}.labels[{rng.randint(-4, 4)}]",
    ])


SHAPES = {
    "field chain": (0.22, _field_chain),
    "comparison": (0.22, _comparison),
    "&& / || / !": (0.14, _boolean),
    "length()": (0.10, _length),
    "contains()": (0.10, _contains),
    "version_*()": (0.05, _version_call),
    "filter": (0.10, _filter),
    "other": (0.07, _misc),
}


# --- timing ------------------------------------------------------------------------------------


def _paired_medians(baseline, ours, runs: int) -> tuple[float, float]:
    """Median seconds of each callable, after a warm-up; the runs alternate so that both see
    the same load on a shared machine."""
    baseline()
    ours()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for run, out in zip((baseline, ours), times):
            gc.collect()
            start = time.perf_counter()
            run()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def _evaluate_all(search, items: list[Any], bundle: dict[str, Any]) -> float:
    start = time.perf_counter()
    for item in items:
        try:
            search(item, bundle)
        except Exception:  # noqa: BLE001 - an error result is a result
            pass
    return time.perf_counter() - start


def _baseline_search(parsed, bundle):
    return parsed.search(bundle, OPTIONS)


def _our_search(expr, bundle):
    return expr.search(bundle)


def _by_shape(groups: dict[str, list[Any]], search, bundle: dict[str, Any], runs: int) -> dict[str, float]:
    """Median seconds per shape, each shape's expressions evaluated together (so the CPU
    caches are cold at the start of each group, as after any other work)."""
    for items in groups.values():  # warm
        _evaluate_all(search, items, bundle)
    per_run = []
    for _ in range(runs):
        gc.collect()
        per_run.append({shape: _evaluate_all(search, items, bundle) for shape, items in groups.items()})
    return {shape: statistics.median(run[shape] for run in per_run) for shape in groups}


def measure(rules: list[tuple[str, str]], bundle: dict[str, Any], runs: int, by_shape: bool = False) -> dict[str, Any]:
    texts = [text for _, text in rules]
    baseline = [jmespath.compile(text) for text in texts]
    ours = [compile_expr(text) for text in texts]

    def compile_baseline():
        Parser._CACHE.clear()
        for text in texts:
            jmespath.compile(text)

    def compile_ours():
        Parser._CACHE.clear()
        for text in texts:
            compile_expr(text)

    eval_base, eval_ours = _paired_medians(
        lambda: _evaluate_all(_baseline_search, baseline, bundle), lambda: _evaluate_all(_our_search, ours, bundle), runs
    )
    compile_base, compile_ours_s = _paired_medians(compile_baseline, compile_ours, runs)
    numbers: dict[str, Any] = {
        "rules": len(rules),
        "runs": runs,
        "python": sys.version.split()[0],
        "jmespath": jmespath.__version__,
        "eval_ours_s": eval_ours,
        "eval_baseline_s": eval_base,
        "eval_ratio": eval_ours / eval_base,
        "compile_ours_s": compile_ours_s,
        "compile_baseline_s": compile_base,
        "compile_ratio": compile_ours_s / compile_base,
    }
    if by_shape:
        shapes = [shape for shape, _ in rules]
        base_groups: dict[str, list[Any]] = {}
        our_groups: dict[str, list[Any]] = {}
        for shape, parsed, expr in zip(shapes, baseline, ours):
            base_groups.setdefault(shape, []).append(parsed)
            our_groups.setdefault(shape, []).append(expr)
        base_times = _by_shape(base_groups, _baseline_search, bundle, runs)
        our_times = _by_shape(our_groups, _our_search, bundle, runs)
        numbers["eval_by_shape"] = {
            shape: {"rules": len(our_groups[shape]), "ours_s": our_times[shape], "baseline_s": base_times[shape], "ratio": our_times[shape] / base_times[shape]}
            for shape in SHAPES
            if shape in our_groups
        }
    return numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=10_000, help="number of distinct expressions (default 10000)")
    parser.add_argument("--bundle-mb", type=float, default=1.0, help="size of the fact bundle as JSON (default 1)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs; the median is reported (default 5)")
    parser.add_argument("--seed", type=int, default=20240601, help="seed for the bundle and the rules")
    parser.add_argument("--by-shape", action="store_true", help="also time each shape of expression on its own")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    bundle = build_bundle(rng, args.bundle_mb)
    rules = build_rules(rng, bundle, args.rules)
    numbers = measure(rules, bundle, args.runs, args.by_shape)
    numbers["bundle_bytes"] = len(json.dumps(bundle))
    numbers["seed"] = args.seed

    print(f"{numbers['rules']} rules over a {numbers['bundle_bytes'] / 1e6:.2f} MB bundle, median of {args.runs} warm runs")
    print(f"evaluate  ours {numbers['eval_ours_s'] * 1e3:8.1f} ms   jmespath {numbers['eval_baseline_s'] * 1e3:8.1f} ms   ratio {numbers['eval_ratio']:.2f}  (target <= 0.5)")
    for shape, row in numbers.get("eval_by_shape", {}).items():
        print(f"  {shape:<14} {row['rules']:6d} rules   ours {row['ours_s'] * 1e3:8.1f} ms   jmespath {row['baseline_s'] * 1e3:8.1f} ms   ratio {row['ratio']:.2f}")
    print(f"compile   ours {numbers['compile_ours_s'] * 1e3:8.1f} ms   jmespath {numbers['compile_baseline_s'] * 1e3:8.1f} ms   ratio {numbers['compile_ratio']:.2f}  (target <= 1.0)")
    if args.json is not None:
        args.json.write_text(json.dumps(numbers, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
