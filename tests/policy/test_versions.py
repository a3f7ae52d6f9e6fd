"""Version parsing, comparison, drift and ignore_versions, straight from `policy.versions`."""

from __future__ import annotations

import pytest

from wfgy_rules.errors import EvaluationError
from wfgy_rules.policy import versions


@pytest.mark.parametrize("a,b,expected", [
    ("v1.2", "1.2.0", 0),
    ("V1.2", "1.2", 0),
    ("  12.1 ", "12.1", 0),
    (12, "12.0", 0),
    (12.1, "12.1", 0),
    ("12.10", "12.2", 1),
    ("12.2", "12.10", -1),
    ("13.0rc1", "13.0", -1),
    ("2.3.1+cu121", "2.3.1", 1),
])
def test_compare(a, b, expected):
    assert versions.compare(a, b) == expected


@pytest.mark.parametrize("value", [True, None, [], {}, "abc", "1.0-", ""])
def test_anything_else_is_not_a_version(value):
    with pytest.raises(EvaluationError, match="is not a version"):
        versions.parse(value)


@pytest.mark.parametrize("a,b,level", [
    ("2.3.1", "2.3.1", "none"),
    ("2", "2.0.0", "none"),
    ("1.2.3.4", "1.2.3.5", "none"),        # past the third part is not drift
    ("2.3.1+cu121", "2.3.1+cu118", "none"),
    ("2.3.1", "2.3.2", "patch"),
    ("2.3", "2.3.1", "patch"),
    ("2.3.1", "2.4.1", "minor"),
    ("2.3.1", "3.3.1", "major"),
    ("1", "2.1.1", "major"),
])
def test_drift(a, b, level):
    assert versions.drift(a, b) == level == versions.drift(b, a)


@pytest.mark.parametrize("level,ignore,expected", [
    ("none", [], True),
    ("patch", [], False),
    ("patch", ["patch"], True),
    ("minor", ["patch"], False),
    ("minor", ["minor"], True),
    ("patch", ["minor"], True),           # minor implies patch
    ("major", ["minor"], False),
    ("major", ["major"], True),
    ("minor", ["patch", "major"], True),  # the widest level wins, in any order
    ("minor", ["major", "patch"], True),
])
def test_tolerated(level, ignore, expected):
    assert versions.tolerated(level, ignore) is expected


@pytest.mark.parametrize("ignore,message", [
    ("patch", "ignore_versions must be a list, got \"patch\" (string)"),
    (None, "ignore_versions must be a list, got null (null)"),
    (["tiny"], "ignore_versions entry \"tiny\" (string) is not patch, minor or major"),
    (["none"], "ignore_versions entry \"none\" (string) is not patch, minor or major"),
    (["major", "tiny"], "ignore_versions entry \"tiny\" (string) is not patch, minor or major"),
])
def test_bad_ignore_versions(ignore, message):
    with pytest.raises(EvaluationError) as caught:
        versions.tolerated("none", ignore)
    assert str(caught.value) == message


@pytest.mark.parametrize("version,spec,expected", [
    ("12.4", ">=12.1,<13", True),
    ("13.0rc1", ">=12", True),
    ("12.0rc1", ">=12", False),
    ("13.0rc1", "<13", False),
    ("v12.1", "==12.1", True),
])
def test_satisfies(version, spec, expected):
    assert versions.satisfies(version, spec) is expected


@pytest.mark.parametrize("spec", [12, None, "~~1", "=>1"])
def test_bad_specifiers(spec):
    with pytest.raises(EvaluationError, match="is not a version specifier"):
        versions.satisfies("1.0", spec)
