"""The README's quick-start sample is a real run: `scripts/readme_sample.py --check` runs the
quick start's command through the CLI on a fresh machine's terms and compares it, line for
line, with the block in README.md."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import REPO

SCRIPT = REPO / "scripts" / "readme_sample.py"


def test_the_readme_shows_what_the_quick_start_prints():
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=180)
    if done.returncode == 3:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr


def test_the_sample_shows_the_failures_the_skips_by_reason_and_the_counts():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    fenced = text[text.index("<!-- readme-sample -->\n```\n"):].split("```\n")[1]
    lines = fenced.splitlines()
    assert [line.split()[-1] for line in lines if line[:1] in "✖⚠✔"] == [
        "cuda.gpu-present", "prompt.undeclared-placeholder", "semvers.tokenizer-sha"]  # no OK line
    assert "  • model acme/support-llm-7b tokenizer-sha = 34ae92b5ccea; runtime tokenizer-sha = a9be45b6f511: " \
           "tokenizer_config.json: add_eos_token false → true" in lines  # the planted change, named
    assert any(line.startswith("- ") and line.endswith(" rules skipped: kubernetes not configured (k8s.*)") for line in lines)
    assert lines[-2].endswith("(2 blocking)") and lines[-1] == "→ Aborting deploy (use --force to override)"
