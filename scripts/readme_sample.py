"""Keep the README's quick-start sample equal to what the tool prints.

The fenced block after the ``<!-- readme-sample -->`` line of README.md is the output of the
quick start's command, ``wfgy-rules eval --config policies.example/wfgy.yaml``, run from the
repository root on a fresh machine: no GPU (``tests/gpus/pynvml.py`` with ``FAKE_GPUS=none``),
none of the example's variables set, no colour. This script makes that run through the real
CLI and writes its output into the block; ``--check`` only compares (exit 1, with a diff,
when the README is stale)::

    python scripts/readme_sample.py           # rewrite the block
    python scripts/readme_sample.py --check   # what tests/integration/test_readme_sample.py runs

A machine with torch or a CUDA toolkit (``/usr/local/cuda/version.json``) knows the compiled
CUDA, so one more rule runs there than on the README's machine: ``--check`` says so and exits 3.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
MARKER = "<!-- readme-sample -->"
COMMAND = ("eval", "--config", "policies.example/wfgy.yaml")
CUDA_TOOLKIT = Path("/usr/local/cuda/version.json")
NOT_THIS_MACHINE = 3


def sample() -> str:
    """The quick start's output on a fresh machine (see the module docstring)."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), "NO_COLOR": "1",
           "PYTHONIOENCODING": "utf-8", "PYTHONPATH": str(REPO / "tests" / "gpus"), "FAKE_GPUS": "none"}
    done = subprocess.run([sys.executable, "-m", "wfgy_rules", *COMMAND], cwd=REPO, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)
    if done.returncode != 1 or done.stderr:
        raise SystemExit(f"the example did not fail as the README says (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def block(text: str) -> tuple[int, int]:
    """Where the sample's lines are in the README's text: (start, end) offsets inside the fence."""
    marker = text.index(MARKER + "\n")
    start = text.index("```\n", marker) + len("```\n")
    return start, text.index("```\n", start)


def machine_differs() -> str | None:
    if importlib.util.find_spec("torch") is not None:
        return "torch is installed here"
    if CUDA_TOOLKIT.exists():
        return f"{CUDA_TOOLKIT} exists here"
    return None


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    start, end = block(text)
    why = machine_differs()
    if why is not None:
        print(f"{why}: the README's sample is of a machine without CUDA; run this elsewhere", file=sys.stderr)
        return NOT_THIS_MACHINE
    printed = sample()
    if text[start:end] == printed:
        return 0
    if "--check" in argv:
        diff = difflib.unified_diff(text[start:end].splitlines(True), printed.splitlines(True), "README.md", "printed")
        sys.stderr.write("README.md's quick-start sample is stale: run python scripts/readme_sample.py\n" + "".join(diff))
        return 1
    README.write_text(text[:start] + printed + text[end:], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
