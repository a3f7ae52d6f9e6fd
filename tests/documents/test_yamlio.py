"""The safe loader: positions, duplicates, hostile input, defined behaviour for odd files."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from wfgy_rules.documents.yamlio import load_file, load_text
from wfgy_rules.errors import PolicyError


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_text(text, "f.yaml")
    return info.value.lines()


def test_positions_of_values_and_keys():
    doc = load_text("a: 1\nrules:\n  - id: x\n    assert: 'b'\n", "f.yaml")
    assert doc.data == {"a": 1, "rules": [{"id": "x", "assert": "b"}]}
    assert doc.locate(("rules", 0, "assert")) == (4, 13)
    assert doc.locate(("rules", 0, "assert"), key=True) == (4, 5)
    assert doc.locate(("rules", 0, "missing")) == (3, 5)  # nearest parent


def test_every_duplicate_key_is_reported_with_its_line():
    assert errors_of("a: 1\na: 2\nb: {c: 1, c: 2}\n") == [
        "f.yaml:2:1: a: duplicate key 'a' (first defined at line 1)",
        "f.yaml:3:11: b.c: duplicate key 'c' (first defined at line 3)",
    ]


@pytest.mark.parametrize("text", [
    "!!python/object/apply:os.system ['echo pwned']",
    "a: !!python/name:os.system\n",
    "a: !custom 1\n",
    "a: !!binary aGVsbG8=\n",
    "a: !!set {x, y}\n",
])
def test_object_constructing_and_unknown_tags_are_refused(text):
    (line,) = errors_of(text)
    assert "is not allowed" in line and line.startswith("f.yaml:1:")


def test_billion_laughs_is_refused_fast_with_bounded_memory():
    lol = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lol += f"{name}: &{name} [{','.join('*' + prev for _ in range(9))}]\n"
    tracemalloc.start()
    started = time.perf_counter()
    (line,) = errors_of(lol)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "alias bomb" in line
    assert elapsed < 10 and peak < 200 * 1024 * 1024


def test_deep_nesting_is_a_clear_error_not_a_recursion_error():
    (line,) = errors_of("[" * 10000 + "]" * 10000)
    assert "nesting" in line or "depth" in line
    (line,) = errors_of("".join(f"{'  ' * i}k{i}:\n" for i in range(300)) + "  " * 300 + "v: 1\n")
    assert "nesting deeper than 256 levels" in line


def test_size_limit_is_checked_before_parsing(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 2000 + "\n")
    monkeypatch.setenv("WFGY_MAX_FILE_BYTES", "1000")
    with pytest.raises(PolicyError) as info:
        load_file(path, "big.yaml")
    assert info.value.lines() == ["big.yaml: file is 2004 bytes, over the 1000-byte limit (WFGY_MAX_FILE_BYTES)"]


def test_defined_behaviour_for_odd_files(tmp_path):
    cases = {
        "bom.yaml": ("\ufeffa: 1\n".encode(), {"a": 1}),
        "crlf.yaml": (b"a: 1\r\nb:\r\n  - x\r\n", {"a": 1, "b": ["x"]}),
        "tab-in-value.yaml": (b"a: 'x\ty'\n", {"a": "x\ty"}),
        "date.yaml": (b"expires: 2027-01-31\n", {"expires": "2027-01-31"}),
    }
    for name, (raw, expected) in cases.items():
        (tmp_path / name).write_bytes(raw)
        assert load_file(tmp_path / name).data == expected, name
    bad = {
        "empty.yaml": (b"", "file is empty"),
        "comments.yaml": (b"# nothing\n", "file is empty"),
        "latin1.yaml": (b"a: caf\xe9\n", "not UTF-8 text (byte 0xe9)"),
        "multi.yaml": (b"a: 1\n---\nb: 2\n", "more than one YAML document"),
        "tab-indent.yaml": (b"a:\n\tb: 1\n", "invalid YAML"),
    }
    for name, (raw, message) in bad.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(PolicyError) as info:
            load_file(tmp_path / name, name)
        assert message in info.value.lines()[0], name
        assert info.value.lines()[0].startswith(name), name


def test_a_directory_or_missing_file_is_one_line(tmp_path):
    for path, message in ((tmp_path, "is a directory, expected a file"), (tmp_path / "nope.yaml", "no such file")):
        with pytest.raises(PolicyError) as info:
            load_file(path, "shown")
        assert info.value.lines() == [f"shown: {message}"]


def test_merge_keys_and_anchors_are_plain_data():
    doc = load_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n", "f.yaml")
    assert doc.data["other"] == {"x": 1, "y": 3}


def test_a_stream_keeps_every_document_and_its_stream_positions():
    from wfgy_rules.documents.yamlio import load_stream

    text = "---\n# Source: chart/a.yaml\nkind: A\nx: &a [1]\n---\n# Source: chart/empty.yaml\n---\nkind: B\ny: {z: 2}\n"
    docs = load_stream(text, "s.yaml")
    assert [d.data for d in docs] == [{"kind": "A", "x": [1]}, {"kind": "B", "y": {"z": 2}}]
    assert docs[1].locate(("y", "z")) == (9, 8) and docs[0].locate(()) == (3, 1)


@pytest.mark.parametrize("text,message", [
    ("a: 1\n---\nb: !!python/object/apply:os.system [id]\n", "s.yaml:3:4: YAML tag"),
    ("a: 1\n---\nb: 1\nb: 2\n", "s.yaml:4:1: b: duplicate key 'b'"),
    ("a: 1\n---\nb: *nope\n", "s.yaml:3:4: unknown alias"),
    ("---\na: &x 1\n---\nb: *x\n", "s.yaml:4:4: unknown alias"),  # anchors stay in their document
])
def test_a_stream_keeps_the_safety_rules(text, message):
    from wfgy_rules.documents.yamlio import load_stream

    with pytest.raises(PolicyError) as caught:
        load_stream(text, "s.yaml")
    assert caught.value.lines()[0].startswith(message)
