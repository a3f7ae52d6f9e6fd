"""Prompt Lint says only what is wrong: a chat template that needs a name is not called a
syntax error, and a prompt that does not parse does not also make the variables it uses
"declared but unused"."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_cli

CONFIG = """apiVersion: wfgy-rules/v1
kind: Config
policies: ["builtin:prompt-lint"]
providers:
  runtime: {model_dir: model, packages: []}
  prompts: {vars: prompt_vars.yaml}
rules:
  prompt.unused-var: {enabled: true}
"""
VARS = """apiVersion: wfgy-rules/v1
kind: PromptVars
vars:
  customer_name: {required: true}
  order_id: {required: true}
  vip: {default: false}
  tier: {default: gold}
  tone: {default: warm}
  legacy: {default: unused anywhere}
"""


def project(root: Path, support: str, chat_template: str) -> Path:
    (root / "prompts").mkdir()
    (root / "model").mkdir()
    (root / "prompts" / "support.j2").write_text(support)
    (root / "prompts" / "greeting.j2").write_text("Hi, in a {{ tone }} tone.\n")
    (root / "model" / "chat_template.jinja").write_text(chat_template)
    (root / "prompt_vars.yaml").write_text(VARS)
    (root / "wfgy.yaml").write_text(CONFIG)
    return root


def failures(root: Path) -> list[str]:
    done = run_cli("eval", cwd=root)
    assert done.returncode == 1, done.stderr
    return [line.strip() for line in done.stdout.splitlines() if line.startswith("  • ")]


def test_a_syntax_error_is_one_finding_not_four_unused_variables(tmp_path):
    support = "Hello {{ customer_name }}, about {{ order_id }}.\n{% if vip %}Thanks, {{ tier }} member!{% endif %}\n{{ oops }\n"
    chat = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
    assert failures(project(tmp_path, support, chat)) == [
        "• prompts/support.j2:3: unexpected '}'",
        "• legacy is declared in prompt_vars.yaml but no prompt uses it",  # mentioned nowhere: really unused
    ]


def test_a_chat_template_that_needs_a_name_is_not_called_a_syntax_error(tmp_path):
    support = "Hello {{ customer_name }}, about {{ order_id }}. {% if vip %}{{ tier }}{% endif %}\n"
    chat = "{% for m in messages %}{{ m.content }}{% endfor %}You work for {{ company_name }}.\n"
    assert failures(project(tmp_path, support, chat)) == [
        "• legacy is declared in prompt_vars.yaml but no prompt uses it",
        "• chat template (chat_template.jinja): needs undeclared [company_name]",
    ]
    (tmp_path / "model" / "chat_template.jinja").write_text("{% for m in messages %}{{ m.content }\n{% endfor %}")
    assert failures(tmp_path)[1:] == ["• chat template (chat_template.jinja): syntax error at template line 1: unexpected '}'"]
