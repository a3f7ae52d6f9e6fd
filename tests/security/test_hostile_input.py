"""Hostile and odd input through the real CLI: nothing executes, nothing hangs, nothing
crashes; every refusal is exit 2 with one line naming the file (SPEC §10).

Defined behaviour for odd files (see `wfgy_rules.documents.yamlio`): a UTF-8 byte-order mark is
skipped and CRLF line ends are read like LF (both load); an empty file, a file that is not
UTF-8, and a file with more than one YAML document are refused (exit 2).

Fact bundles (``eval --facts``) are JSON: ``NaN``/``Infinity`` and duplicate keys are
refused (exit 2). Huge integers such as ``10**400`` are *kept exact*: Python integers have
no size limit, so comparisons never round through a float (``10**400 - 1 < 10**400`` holds),
reports print every digit, and two runs give the same bytes. Integers longer than Python's
4,300-digit conversion limit are refused (exit 2) rather than read approximately. In YAML,
``.nan``, ``.inf`` and floats that overflow (``1e999``) are refused: JSON cannot carry them.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers import TEAM_CONFIG, TEAM_POLICY, run_cli

PAYLOADS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/apply:subprocess.call [['touch', '{marker}']]",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/name:os.system",
    "!!python/module:os",
]


def assert_refused(done, *expected: str) -> None:
    out = done.stdout + done.stderr
    assert done.returncode == 2, (done.returncode, out)
    assert "Traceback" not in out and "RecursionError" not in out, out
    for text in expected:
        assert text in done.stderr, (text, done.stderr)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_object_tags_in_a_policy_are_refused_and_nothing_runs(project, payload):
    marker = project / "PWNED"
    (project / "team.yaml").write_text(TEAM_POLICY.replace("params: {context: 4096}", "params: " + payload.format(marker=marker)))
    commands = (["eval"], ["validate", "team.yaml"], ["list"]) if payload == PAYLOADS[0] else (["eval"],)
    for args in commands:
        done = run_cli(*args, cwd=project)
        assert_refused(done, "team.yaml:9:", "is not allowed")
    assert not marker.exists()


@pytest.mark.parametrize("where", ["top", "providers", "policies"])
def test_object_tags_in_the_config_are_refused_and_nothing_runs(project, where):
    marker = project / "PWNED"
    payload = PAYLOADS[0].format(marker=marker)
    text = {
        "top": payload + "\n",
        "providers": TEAM_CONFIG.replace("file: {files: {serving: serving.yaml}}", "file: " + payload),
        "policies": TEAM_CONFIG.replace("policies: [./team.yaml]", "policies: " + payload),
    }[where]
    (project / "wfgy.yaml").write_text(text)
    commands = (["eval"], ["facts"], ["validate"], ["preflight", "--", "true"]) if where == "top" else (["eval"],)
    for args in commands:
        assert_refused(run_cli(*args, cwd=project), "wfgy.yaml:", "is not allowed")
    assert not marker.exists()


def test_object_tags_in_a_fact_file_make_only_its_rules_error(project):
    marker = project / "PWNED"
    (project / "serving.yaml").write_text("max_model_len: " + PAYLOADS[0].format(marker=marker) + "\n")
    done = run_cli("eval", "-f", "json", cwd=project)
    assert done.returncode == 1, done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert result["status"] == "error" and "is not allowed" in result["message"]
    assert not marker.exists()


def billion_laughs() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi"):
        text += f"{name}: &{name} [{','.join('*' + prev for _ in range(9))}]\n"
    return text


@pytest.mark.parametrize("name", ["team.yaml", "wfgy.yaml"])
def test_billion_laughs_is_refused_quickly(project, name):
    (project / name).write_text(billion_laughs())
    started = time.monotonic()
    done = run_cli("eval", cwd=project, timeout=30)
    assert_refused(done, f"{name}:", "alias bomb")
    assert time.monotonic() - started < 10


def test_a_file_over_the_size_limit_is_refused_before_parsing(project):
    # Invalid YAML and an object tag: had it been parsed, the error would be another one.
    policy = project / "team.yaml"
    policy.write_text("rules: [ !!python/object/apply:os.system ['true'] \n" + "#" * 2000 + "\n")
    done = run_cli("eval", cwd=project, env={"WFGY_MAX_FILE_BYTES": "1000"})
    assert_refused(done)
    size = policy.stat().st_size
    assert done.stderr.strip().splitlines() == [f"team.yaml: file is {size} bytes, over the 1000-byte limit (WFGY_MAX_FILE_BYTES)"]
    policy.write_text(TEAM_POLICY)
    (project / "facts.json").write_text(json.dumps({"file": {"serving": {"max_model_len": 1, "pad": "x" * 2000}}}))
    done = run_cli("eval", "--facts", "facts.json", cwd=project, env={"WFGY_MAX_FILE_BYTES": "1000"})
    assert_refused(done, "facts.json: file is", "over the 1000-byte limit")


@pytest.mark.parametrize("text,expected", [
    ("[" * 10000 + "]" * 10000, "team.yaml:1:1001: invalid YAML: while increasing flow level exceeded maximum nesting depth"),
    ("{a: " * 10000 + "1" + "}" * 10000, "team.yaml:1:1025: nesting deeper than 256 levels"),
    ("- " * 10000 + "x\n", "team.yaml:1:513: nesting deeper than 256 levels"),
    ("".join(f"{' ' * i}k:\n" for i in range(2000)) + " " * 2000 + "v: 1\n", "team.yaml:257:257: nesting deeper than 256 levels"),
])
def test_ten_thousand_levels_of_nesting_is_a_clear_error(project, text, expected):
    (project / "team.yaml").write_text(text)
    done = run_cli("eval", cwd=project)
    assert_refused(done)
    assert done.stderr.strip().splitlines() == [expected]


def test_deeply_nested_fact_bundles_are_refused_not_a_crash(project):
    for depth in (600, 990, 10000):
        (project / "facts.json").write_text('{"file": {"serving": {"x": ' + "[" * depth + "]" * depth + "}}}")
        assert_refused(run_cli("eval", "--facts", "facts.json", cwd=project), "facts.json: JSON nested deeper than 512 levels")
    # Nesting within the limit is evaluated (and rendered in every report) without a crash.
    (project / "facts.json").write_text('{"file": {"serving": {"max_model_len": ' + "[" * 500 + "]" * 500 + "}}}")
    done = run_cli("eval", "--facts", "facts.json", "-f", "json", "--report", "sarif=out.sarif", "--report", "junit=out.xml", cwd=project)
    assert done.returncode == 1 and json.loads(done.stdout)["results"][0]["status"] in ("fail", "error"), done.stderr


@pytest.mark.parametrize("raw,code,expected", [
    (b"\xef\xbb\xbf" + TEAM_POLICY.encode(), 0, ""),
    (TEAM_POLICY.replace("\n", "\r\n").encode(), 0, ""),
    (b"", 2, "team.yaml: file is empty, expected a YAML mapping"),
    (b"# only a comment\n", 2, "team.yaml: file is empty, expected a YAML mapping"),
    (TEAM_POLICY.replace("platform", "plat\xe9form").encode("latin-1"), 2, "team.yaml:3:35: not UTF-8 text (byte 0xe9)"),
    (TEAM_POLICY.encode() + b"---\n" + TEAM_POLICY.encode(), 2, "team.yaml:13:1: more than one YAML document (---); put one document in each file"),
])
def test_odd_files_have_the_documented_behaviour(project, raw, code, expected):
    (project / "team.yaml").write_bytes(raw)
    done = run_cli("eval", cwd=project)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    if expected:
        assert done.stderr.strip().splitlines() == [expected]
    else:
        assert "1 passed, 0 failed" in done.stdout


@pytest.mark.parametrize("literal", [".nan", ".NaN", ".inf", "-.inf", "1.0e+999"])
def test_non_finite_numbers_in_yaml_are_refused(project, literal):
    (project / "team.yaml").write_text(TEAM_POLICY.replace("{context: 4096}", "{context: %s}" % literal))
    assert_refused(run_cli("eval", cwd=project), "team.yaml:9:23:", "is not a finite number")


@pytest.mark.parametrize("text,expected", [
    ('{"file": NaN}', "facts.json: NaN is not a JSON value"),
    ('{"file": {"serving": {"max_model_len": Infinity}}}', "facts.json: Infinity is not a JSON value"),
    ('{"file": {"serving": {"max_model_len": -Infinity}}}', "facts.json: -Infinity is not a JSON value"),
    ('{"file": {}, "file": {}}', "facts.json: duplicate key 'file' in a JSON object"),
    ('{"file": {"serving": {"a": 1, "a": 1}}}', "facts.json: duplicate key 'a' in a JSON object"),
    ('{"file": {"serving": {"max_model_len": ' + "9" * 5000 + "}}}", "facts.json: Exceeds the limit (4300 digits)"),
    ('{"file": 1', "facts.json:1:11: not valid JSON"),
    ("[1, 2]", "facts.json: a fact bundle must be a JSON object keyed by provider name"),
])
def test_malformed_fact_bundles_are_refused(project, text, expected):
    (project / "facts.json").write_text(text)
    assert_refused(run_cli("eval", "--facts", "facts.json", cwd=project), expected)


def test_huge_integers_are_exact_and_deterministic(project):
    """10**400 is kept as an exact integer: ``10**400 - 1`` compares below it (a float would
    make them equal), and the reports of two runs are the same bytes."""
    big = 10**400
    (project / "team.yaml").write_text(TEAM_POLICY + """\
  - id: team.exact
    title: exact comparison of huge integers
    severity: high
    facts: [file]
    assert: {key: file.serving.below, op: lt, value_from: file.serving.big}
  - id: team.huge-fails
    title: a huge value fails the bound with exact evidence
    severity: high
    facts: [file]
    assert: {key: file.serving.big, op: le, value: 4096}
""")
    bundle = '{"file": {"serving": {"max_model_len": 2048, "big": %d, "below": %d}}}' % (big, big - 1)
    (project / "facts.json").write_text(bundle)
    runs = [run_cli("eval", "--facts", "facts.json", "-f", "json", cwd=project) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout and runs[0].returncode == 1
    report = json.loads(runs[0].stdout)
    assert [(r["rule_id"], r["status"]) for r in report["results"]] == [
        ("team.max-len", "pass"), ("team.exact", "pass"), ("team.huge-fails", "fail"),
    ]
    assert report["results"][2]["evidence"] == [{"key": "file.serving.big", "op": "le", "left": big, "right": 4096}]


def test_arithmetic_that_leaves_json_is_an_error_result_not_infinity_in_a_report(project):
    """``avg`` of a huge integer overflows a float, ``to_number('1e999')`` is infinite and
    ``to_number('nan')`` is NaN: each is an ``error`` result, and the report stays strict JSON."""
    (project / "team.yaml").write_text(TEAM_POLICY + """\
  - {id: team.avg, title: avg, severity: high, facts: [file], assert: "avg(file.serving.big) > `0`"}
  - {id: team.inf, title: inf, severity: high, facts: [file], assert: "to_number(file.serving.inf) > `0`"}
  - {id: team.nan, title: nan, severity: high, facts: [file], assert: "to_number(file.serving.nan) == `1`"}
  - {id: team.sum, title: sum, severity: high, facts: [file], assert: {key: "sum(file.serving.floats)", op: gt, value: 0}}
""")
    (project / "facts.json").write_text('{"file": {"serving": {"max_model_len": 1, "big": [%d], "inf": "1e999", "nan": "nan", "floats": [1e308, 1e308]}}}' % 10**400)
    done = run_cli("eval", "--facts", "facts.json", "-f", "json", cwd=project)

    def refuse(name):
        raise AssertionError(f"{name} in the report")

    report = json.loads(done.stdout, parse_constant=refuse)
    assert [(r["rule_id"], r["status"]) for r in report["results"]][1:] == [
        ("team.avg", "error"), ("team.inf", "error"), ("team.nan", "error"), ("team.sum", "error"),
    ]
    assert "avg() overflows" in report["results"][1]["message"]


def test_a_line_break_inside_a_key_does_not_break_the_one_line_error(project):
    (project / "team.yaml").write_text(TEAM_POLICY.replace("metadata: {name: team, owner: platform}", 'metadata: {name: team, "own\\ner": x}'))
    done = run_cli("eval", cwd=project)
    assert_refused(done)
    assert done.stderr.strip().splitlines() == ["team.yaml:3:24: metadata.own\\ner: unknown key 'own\\ner' (did you mean 'owner'?)"]
