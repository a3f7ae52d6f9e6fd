"""Regular expressions from policies cannot stall a run.

Shapes that backtrack exponentially are refused when the policy loads (``op: regex``
literals, exit 2) or on first use (a pattern inside ``regex_match(...)`` or read from facts:
an ``error`` result). Anything else is bounded by a clock (`wfgy_rules.policy.regexes.MAX_SECONDS`):
even ``a*b`` is quadratic on a long run of ``a`` and would take minutes on a megabyte.
"""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest

from tests.helpers import run_cli
from wfgy_rules.errors import EvaluationError
from wfgy_rules.policy import regexes as patterns
from wfgy_rules.policy.expressions import compile_expr

EXPONENTIAL = ["(a+)+$", "(a|aa)+$", "(.*a){20}", "(a|a)*$", "((a+))+$", "^(a?){25}a{25}$", "(\\w+\\s?)+$", "(a|b|ab)+$"]
QUADRATIC = ["a*b", "(a|b)*c", ".*a.*b"]  # pass the shape check; only the clock bounds them
LONG = "a" * 100_000 + "!"


def rule(index: int, pattern: str) -> str:
    return f"  - {{id: re.r{index}, title: r{index}, severity: high, facts: [file], assert: {{key: file.s.text, op: regex, value: {json.dumps(pattern)}}}}}\n"


def test_exponential_patterns_are_refused_at_load_every_one_reported(tmp_path):
    text = "apiVersion: wfgy-rules/v1\nkind: Policy\nmetadata: {name: re}\nrules:\n" + "".join(rule(i, p) for i, p in enumerate(EXPONENTIAL))
    (tmp_path / "re.yaml").write_text(text)
    done = run_cli("validate", "re.yaml", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == len(EXPONENTIAL), lines
    for line, pattern in zip(lines, EXPONENTIAL):
        assert line.startswith("re.yaml:") and f"rules[{EXPONENTIAL.index(pattern)}].assert.value: regular expression {pattern!r}" in line
        assert "backtrack catastrophically" in line


@pytest.mark.parametrize("pattern", EXPONENTIAL)
def test_exponential_patterns_are_refused_on_first_use(pattern):
    started = time.monotonic()
    with pytest.raises(EvaluationError, match="backtrack catastrophically"):
        compile_expr("regex_match(@[0], @[1])").search([pattern, LONG])
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("pattern", QUADRATIC)
def test_slow_patterns_are_stopped_by_the_clock(pattern):
    assert patterns.check(pattern) is None
    started = time.monotonic()
    with pytest.raises(EvaluationError, match=r"ran longer than 1s on a text of 100001 characters"):
        patterns.search(pattern, LONG)
    assert time.monotonic() - started < 5  # 1 s, plus up to ~0.7 s before `re` next checks for signals
    # The timer is disarmed and the previous SIGALRM handler restored.
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL


def test_ordinary_patterns_on_large_texts_are_fast_and_correct():
    started = time.monotonic()
    assert patterns.search(r"!$", LONG) and patterns.search(r"^a{3}", LONG) and not patterns.search(r"b", LONG)
    assert time.monotonic() - started < 2
    with pytest.raises(EvaluationError, match="over the 1000000-character regex limit"):
        patterns.search("a", "a" * 1_000_001)


def test_off_the_main_thread_search_still_works():
    found = []
    thread = threading.Thread(target=lambda: found.append(patterns.search("a+!", "aaa!")))
    thread.start()
    thread.join()
    assert found == [True]


def test_a_whole_run_over_a_100_kb_fact_finishes_quickly(tmp_path):
    rules = "".join(rule(i, p) for i, p in enumerate(["!$", *QUADRATIC[:1]]))
    rules += "  - {id: re.fn, title: fn, severity: high, facts: [file], assert: \"regex_match('(a|aa)+$', file.s.text)\"}\n"
    rules += "  - {id: re.from-facts, title: ff, severity: high, facts: [file], assert: {key: file.s.text, op: regex, value_from: file.s.pattern}}\n"
    (tmp_path / "re.yaml").write_text("apiVersion: wfgy-rules/v1\nkind: Policy\nmetadata: {name: re}\nrules:\n" + rules)
    (tmp_path / "facts.json").write_text(json.dumps({"file": {"s": {"text": LONG, "pattern": "(.*a){20}"}}}))
    started = time.monotonic()
    done = run_cli("eval", "--policy", "re.yaml", "--facts", "facts.json", "-f", "json", cwd=tmp_path, timeout=60)
    assert time.monotonic() - started < 10
    statuses = {r["rule_id"]: (r["status"], r["message"]) for r in json.loads(done.stdout)["results"]}
    assert statuses["re.r0"] == ("pass", "")
    assert statuses["re.r1"][0] == "error" and "ran longer than 1s" in statuses["re.r1"][1]
    assert statuses["re.fn"][0] == "error" and "'(a|aa)+$'" in statuses["re.fn"][1]
    assert statuses["re.from-facts"][0] == "error" and "'(.*a){20}' nests quantifiers" in statuses["re.from-facts"][1]
