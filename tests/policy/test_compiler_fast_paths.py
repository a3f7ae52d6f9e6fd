"""The compiler's shortcuts give what its full paths give."""

from __future__ import annotations

import pytest

from wfgy_rules.documents.yamlio import load_text
from wfgy_rules.policy.compiler import _RuleCompiler
from wfgy_rules.providers import registry


@pytest.mark.parametrize("action", ["abort", "warn", "block", "fallback"])
def test_a_bare_action_remedy_equals_the_full_path(action):
    compiler = _RuleCompiler(load_text("a: 1\n", "p.yaml"), registry.names(), None)
    shared = compiler.remedy({"action": action}, ("rules", 0, "remedy"))
    full = compiler.remedy({"action": action, "hint": ""}, ("rules", 1, "remedy"))  # not a bare action: the full path
    assert shared == full and repr(shared) == repr(full)
    assert compiler.remedy({"action": action}, ("rules", 2, "remedy")) is shared
    assert compiler.problems == []
