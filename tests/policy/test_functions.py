"""Custom JMESPath functions: values for good arguments, an error result for anything else."""

from __future__ import annotations

import pytest

from wfgy_rules.errors import EvaluationError
from wfgy_rules.policy.expressions import compile_expr

CASES = [
    ("version_cmp(`\"2.3.1+cu121\"`, `\"2.3.0\"`)", 1),
    ("version_cmp(`\"v1.2\"`, `\"1.2.0\"`)", 0),
    ("version_cmp(`\"535.104.05\"`, `\"550\"`)", -1),
    ("version_cmp(`12.1`, `\"12.1\"`)", 0),
    ("version_satisfies(`\"12.4\"`, `\">=12.1,<13\"`)", True),
    ("version_drift(`\"2.3.1\"`, `\"2.3.4\"`)", "patch"),
    ("version_drift(`\"2.3.1\"`, `\"2.4.1\"`)", "minor"),
    ("version_drift(`\"1.0\"`, `\"2.0\"`)", "major"),
    ("version_drift(`\"2.3.1+cu121\"`, `\"2.3.1\"`)", "none"),
    ("regex_match(`\"^sk-ant-\"`, `\"sk-ant-x\"`)", True),
    ("regex_match(`\"^sk-ant-\"`, `\"sk-x\"`)", False),
    ("close_matches(`\"OPEN_API_KEY\"`, `[\"OPENAI_API_KEY\", \"HOME\"]`)", ["OPENAI_API_KEY"]),
    ("close_matches(`\"CLAUDE_API_KEY\"`, `[\"AZURE_OPENAI_API_KEY\"]`)", []),
    # several close names: the three closest, best first; non-strings are ignored
    ("close_matches(`\"OPENAI_KEY\"`, `[\"OPENAI_KEYS\", \"HOME\", \"OPENAI_KEY\", \"OPENAI_KE\", \"OPENAI_KEYS_2\"]`)",
     ["OPENAI_KEY", "OPENAI_KEYS", "OPENAI_KE"]),
    ("close_matches(`\"HOME\"`, `[1, null, true, [\"HOME\"], \"HOME\"]`)", ["HOME"]),
    ("to_number(`\"12\"`)", 12),
    ("sum(`[1.5, 2]`)", 3.5),
    ("avg(`[1, 3]`)", 2.0),
    ("starts_with(`\"abc\"`, `\"ab\"`)", True),
    # arithmetic for fit rules: exact where it can be, floats otherwise
    ("multiply(`32`, `8`)", 256),
    ("multiply(`0.9`, `24`)", 21.6),
    ("divide(`8`, `2`)", 4),
    ("divide(`1`, `4`)", 0.25),
    ("add(`1`, `2`)", 3),
    ("subtract(`2`, `5`)", -3),
    ("mod(`28`, `8`)", 4),
    ("mod(`-1`, `8`)", 7),
    ("round(`3.14159`, `2`)", 3.14),
    ("round(`2.5`, `0`)", 2),
    # Llama-3-8B's KV cache per token in bf16: 2 × layers × KV heads × head_dim × 2 bytes
    ("multiply(multiply(multiply(`2`, `32`), multiply(`8`, `128`)), `2`)", 131072),
    ("divide(`28`, `4`) == `7`", True),
]

ERRORS = [
    "version_cmp(`\"abc\"`, `\"1.0\"`)",
    "version_cmp(`true`, `\"1.0\"`)",
    "version_cmp(`null`, `\"1.0\"`)",
    "version_satisfies(`\"1.0\"`, `\"~~1\"`)",
    "version_drift(`[]`, `\"1.0\"`)",
    "regex_match(`\"(\"`, `\"x\"`)",
    "regex_match(`\"(a+)+$\"`, `\"aaaa\"`)",
    "regex_match(`1`, `\"x\"`)",
    "close_matches(`\"x\"`, `\"not a list\"`)",
    "to_number(`\"1e999\"`)",
    "to_number(`\"nan\"`)",
    "sum(`[1e308, 1e308]`)",
    "avg(`[1e308, 1e308]`)",
    "multiply(`\"4\"`, `4`)",
    "multiply(`true`, `2`)",
    "add(`null`, `1`)",
    "divide(`1`, `0`)",
    "divide(`1.5`, `0.0`)",
    "mod(`7`, `0`)",
    "multiply(`1e308`, `10`)",
    "round(`1`, `1.5`)",
    "round(`1`, `-1`)",
    "round(`1`, `13`)",
]


@pytest.mark.parametrize("text,expected", CASES)
def test_function_values(text, expected):
    assert compile_expr(text).search({}) == expected


@pytest.mark.parametrize("text", ERRORS)
def test_bad_arguments_are_evaluation_errors(text):
    with pytest.raises(EvaluationError):
        compile_expr(text).search({})
