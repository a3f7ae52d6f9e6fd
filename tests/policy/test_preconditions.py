"""Why a rule was skipped, in words: cases as data (``when``, facts → reason), then through
the engine and the text report."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli, write_project
from wfgy_rules.policy.expressions import compile_expr
from wfgy_rules.policy.preconditions import combined, why_false

CASES = [
    ("kubernetes.configured && model_card.present", {"kubernetes": {"configured": False}}, "kubernetes not configured"),
    ("nvml.available && nvml.cuda_driver_version != null", {"nvml": {"available": False}}, "nvml not available"),
    ("model_card.present && model_card.declared.torch != null", {"model_card": {"present": True, "declared": {}}},
     "model_card.declared has no torch"),
    ("model_card.present && model_card.declared.torch != null", {"model_card": {"present": False}}, "model_card not present"),
    ("contains(['vllm', 'sglang'], serving.launch.engine) && serving.launch.max_model_len != null",
     {"serving": {"launch": {"engine": None}}}, "serving.launch has no engine"),
    ("serving.launch.tensor_parallel_size > `1`", {"serving": {"launch": {"tensor_parallel_size": 1}}},
     "serving.launch.tensor_parallel_size > `1` is false"),
    ("file.items", {"file": {"items": []}}, "file.items is empty"),
    ("file.flag", {"file": {"flag": False}}, "file.flag is false"),
    ("enabled", {"enabled": None}, "no enabled"),
    ("length(file.items) > `0` && file.ok", {"file": {"items": "xy"}}, "file has no ok"),
    ("file.a || file.b", {"file": {"a": False}}, "file has no b"),
    ("file.a == file.b", {"file": {"a": 1, "b": 2}}, "file.a == file.b is false"),
]


@pytest.mark.parametrize(("when", "facts", "reason"), CASES, ids=[case[2][:40] for case in CASES])
def test_the_first_condition_that_does_not_hold_in_words(when, facts, reason):
    assert why_false(compile_expr(when), facts) == reason


def test_fields_missing_from_one_object_are_one_reason():
    groups = {"model_card.declared has no torch": ["semvers.torch-version"], "kubernetes not configured": ["k8s.a"],
              "model_card.declared has no vllm": ["semvers.vllm-version"]}
    assert combined(groups) == {"model_card.declared has no torch, vllm": ["semvers.torch-version", "semvers.vllm-version"],
                                "kubernetes not configured": ["k8s.a"]}


RULES = """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: team}
rules:
""" + "".join(f"""\
  - id: team.{name}
    title: {name}
    severity: high
    facts: [file]
    when: "{when}"
    assert: "file.serving.max_model_len <= `4096`"
""" for name, when in (("a", "file.serving.k8s"), ("b", "file.serving.k8s && file.serving.x"), ("c", "file.serving.gpu != null"),
                       ("d", "file.serving.ok")))


def test_the_text_report_prints_one_line_per_reason(tmp_path):
    project = write_project(tmp_path, "max_model_len: 2048\nk8s: false\nok: true\n", RULES)
    done = run_cli("eval", cwd=project)
    assert done.stdout == ("- 2 rules skipped: file.serving.k8s is false (team.a, team.b)\n"
                           "- 1 rule skipped: file.serving has no gpu (team.c)\n"
                           "1 passed, 0 failed, 3 skipped\n")
    listed = run_cli("eval", "--verbose", cwd=project).stdout.splitlines()
    assert [line.split()[-2:] for line in listed[:4]] == [["SKIP", "team.a"], ["SKIP", "team.b"], ["SKIP", "team.c"], ["OK", "team.d"]]
