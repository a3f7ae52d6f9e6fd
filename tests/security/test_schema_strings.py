"""Values that used to pass the schema and then crash evaluation (exit 3): impossible dates,
Unicode digits, a trailing newline. Patterns mean what JSON Schema says (ASCII ``\\d``, ``$`` at
the very end), and dates are dates, checked at load: `validate` and `eval` both exit 2."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli
from wfgy_rules.documents.fast_schema_check import ecma_regex
from wfgy_rules.policy.durations import parse_duration

CONFIG = """apiVersion: wfgy-rules/v1
kind: Config
policies: [builtin]
waivers:
  - {rule: semvers.torch-version, reason: upgrade planned, expires: %s}
"""


@pytest.mark.parametrize("expires", ['"2027-02-30"', '"2027-13-01"', '"0000-01-01"', '"２０２７-01-01"', '"2027-01-01\\n"', '"2027-1-01"'])
@pytest.mark.parametrize("command", ["validate", "eval", "list"])
def test_a_waiver_date_that_is_not_a_date_is_invalid_input(tmp_path, expires, command):
    (tmp_path / "wfgy.yaml").write_text(CONFIG % expires)
    args = [command, "wfgy.yaml"] if command == "validate" else [command, "-c", "wfgy.yaml"]
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("wfgy.yaml:5:") and "waivers[0].expires" in done.stderr and "Traceback" not in done.stderr


def test_a_real_date_still_loads(tmp_path):
    (tmp_path / "wfgy.yaml").write_text(CONFIG % "2099-02-28")
    assert run_cli("validate", "wfgy.yaml", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("value", ["２s", "90s\n", "١٠s", " 90s"])
def test_durations_are_ascii_and_whole(value):
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(("timeout", "valid"), [('"90s"', True), ('"٩٠s"', False), ('"90s\\n"', False)])
def test_secret_timeout_is_checked_by_the_schema(tmp_path, timeout, valid):
    (tmp_path / "wfgy.yaml").write_text(f"apiVersion: wfgy-rules/v1\nkind: Config\nsecret_timeout: {timeout}\n")
    done = run_cli("validate", "wfgy.yaml", cwd=tmp_path)
    assert (done.returncode == 0) is valid, done.stderr


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    ("^[0-9]+$", "12\n", False),
    ("^[0-9]+$", "12", True),
    ("^\\d+$", "١٢", False),
    ("^[$]x$", "$x", True),
    ("^a\\$$", "a$", True),
])
def test_schema_patterns_have_json_schema_meaning(pattern, text, matches):
    assert (ecma_regex(pattern).search(text) is not None) is matches
