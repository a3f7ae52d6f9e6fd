"""The fast YAML builder agrees with the event-by-event one it replaced
(`tests/documents/yaml_reference.py`): same data (types included), the same position of every
value and key, and the same errors, word for word, line and column, on good and hostile input."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.documents.yaml_reference import reference_load_stream, reference_load_text
from wfgy_rules.documents.yamlio import load_stream, load_text
from wfgy_rules.errors import PolicyError

CASES = [
    "",
    "---\n",
    "null\n",
    "a: 1\n",
    "[1, 2, {a: b}]\n",
    "a: 1\nrules:\n  - id: x\n    assert: 'b'\n    facts: [file, env]\n",
    "a: 1\na: 2\nb: {c: 1, c: 2}\n",
    "a: {x: 1}\na: [2]\n",
    "a: &x {k: 1, j: [1, 2]}\nb: *x\nc: *x\n",
    "base: &b {k: 1, j: 2}\nuse:\n  <<: *b\n  k: 3\n",
    "base: &b {k: 1}\nuse:\n  k: 3\n  <<: *b\n  k: 4\n",
    "b1: &b1 {k: 1}\nb2: &b2 {j: 2, k: 5}\nuse:\n  <<: [*b1, *b2]\n  x: 1\n",
    "use:\n  <<: {k: 1}\n  k: 2\n",
    "use:\n  <<: [1, 2]\n",
    "use:\n  <<: *nope\n",
    "b: &b [1]\nuse:\n  <<: *b\n",
    "a: <<\n",
    "a: =\n",
    "<<: 1\n",
    "a: *x\n",
    "*x : 1\n",
    "? [a]\n: 1\n",
    "? {a: 1}\n: 1\n",
    "a: !!python/object/apply:os.system ['x']\n",
    "!!python/name:os.system a: 1\n",
    "!!int 1: 2\n",
    "a: !custom 1\n",
    "a: !!set {x, y}\n",
    "a: !!map {x: 1}\nb: !!seq [1]\nc: !!seq {x: 1}\n",
    "a: !!int ''\nb: 1\n",
    "a: !!float x\n",
    "a: !!bool sk-proj-x\nb: !!bool 1\n",
    "a: !sk-proj-x 1\n",
    "a: !!int 0x1F\nb: !!float '1.5'\nc: !!bool yes\nd: !!null ''\ne: !!str 12\n",
    "a: ! 12\nb: ! true\n",
    "a: .nan\n",
    "a: -.inf\n",
    "a: 1e400\n",
    "a: 2026-01-02\nb: 2026-01-02T03:04:05Z\n",
    "a: yes\nb: No\nc: ~\nd: 0o17\ne: 0x1f\nf: 1_000\ng: +1.5\nh: -\ni: ''\nj: 'true'\n",
    "true: 1\n1: 2\nnull: 3\n'': 4\n",
    "a: 1\n---\nb: 2\n",
    "--- a\n--- b\n",
    "a: [1\n",
    "a: b: c\n",
    "a:\n\t- x\n",
    "'unterminated\n",
    "a: 1\n  b: 2\n",
    "x: &a 1\ny: *a\nz: &a [2]\nw: *a\n",
    "list:\n  - &i {a: 1}\n  - *i\n  - [*i, *i]\n",
    "a: {b: {c: {d: [1, [2, [3, {e: f}]]]}}}\n",
    "\ufeffa: 1\r\nb:\r\n  - x\r\n",
    "a: \"tab\\there\"\nb: 'it''s'\nc: |\n  block\n  text\nd: >\n  folded\n  text\n",
    "[" * 300 + "]" * 300,
    "".join(f"{'  ' * i}k{i}:\n" for i in range(257)) + "  " * 257 + "v: 1\n",
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"{n}: &{n} [{','.join('*' + p for _ in range(9))}]\n" for p, n in zip("abcdefgh", "bcdefghi")),
    "a: 1\na: 2\n--- x\n",
    "a: 1\n---\na: 1\na: 2\n---\n---\nb: &q 1\nc: *q\n",
]


def outcome(load, text: str):
    """What ``load`` makes of ``text``: documents (data with types, positions) or the error."""
    try:
        result = load(text, "f.yaml")
    except PolicyError as exc:
        return "error", str(exc), [(p.path, p.message, p.line, p.column, p.where) for p in exc.problems]
    documents = result if isinstance(result, list) else [result]
    return "ok", [(typed(d.data), d.values, d.keys, d.digest, d.path) for d in documents]


def typed(value):
    """``value`` with every scalar's type spelled out (so ``True`` and ``1`` differ)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}, list(value)
    if isinstance(value, list):
        return [typed(v) for v in value]
    return type(value).__name__, value


def agree(text: str) -> None:
    assert outcome(load_text, text) == outcome(reference_load_text, text), text
    assert outcome(load_stream, text) == outcome(reference_load_stream, text), text


@pytest.mark.parametrize("text", CASES)
def test_agrees_with_the_reference_builder_on_odd_and_hostile_input(text):
    agree(text)


def test_agrees_on_the_shipped_policies_and_examples():
    from tests.helpers import REPO

    for path in sorted([*REPO.glob("rules/**/*.yaml"), *REPO.glob("policies.example/**/*.yaml")]):
        agree(path.read_text(encoding="utf-8"))


FRAGMENTS = ["a", "b", ":", ": ", "\n", "\n  ", "- ", "[", "]", "{", "}", ",", "&x ", "*x", "&y ", "*y", "<<: ", "!!int ",
             "!!str ", "!x ", "1", "true", "~", ".nan", "'q'", '"d"', "#c", "? ", "---\n", "k: v\n", "  k: 1\n", "0x1"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30))
def test_agrees_with_the_reference_builder_on_generated_text(parts):
    agree("".join(parts))


@settings(max_examples=150, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=25,
), st.booleans())
def test_agrees_with_the_reference_builder_on_dumped_data(data, flow):
    agree(yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True))
