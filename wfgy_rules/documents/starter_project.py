"""The files ``wfgy-rules init`` writes: a config, a first policy with its test, and
``prompt_vars.yaml``, filled in from what the directory holds.

Detected (nothing is asked):

* a Hugging Face model directory: ``model/``, ``models/``, or the first subdirectory (or
  ``models/*``) holding ``config.json`` or ``tokenizer.json`` → ``providers.runtime.model_dir``;
* prompt folders: ``prompts/``, ``templates/``, ``prompt_templates/`` → ``providers.prompts.paths``;
  the placeholders found there are listed, commented out, in ``prompt_vars.yaml``;
* ``.env.example`` → ``providers.env.declared``, and its entries marked ``# secret`` (and not
  ``optional``) → ``providers.secrets.required``, looked up in the environment and then as
  files in ``/run/secrets`` (Docker and Kubernetes secret files). A secret is one requirement
  with its sources: the ``secrets`` provider judges it (``boot.secrets-present``), the env
  rules leave it alone, so a secret mounted as a file passes. ``preflight`` waits for it only
  while ``/run/secrets`` is there to receive it.

Every file is valid as written (``wfgy-rules validate``) and the policy test passes
(``wfgy-rules test``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from wfgy_rules.errors import ProviderError, WfgyError

CONFIG = "wfgy.yaml"
POLICY = "policies/team.yaml"
POLICY_TEST = "policies/team.test.yaml"
PROMPT_VARS = "prompt_vars.yaml"
FILES = (CONFIG, POLICY, POLICY_TEST, PROMPT_VARS)

_PROMPT_DIRS = ("prompts", "templates", "prompt_templates")
_MODEL_FILES = ("config.json", "tokenizer.json")

_POLICY = """\
# yaml-language-server: $schema=https://wfgy-rules.dev/schemas/policy.schema.json
# This team's own guards, beside the built-in packs. Try an expression first:
#   wfgy-rules query model_card.declared
# then write the rule, add a case to team.test.yaml, and run: wfgy-rules test
apiVersion: wfgy-rules/v1
kind: Policy
metadata:
  name: team
  description: This service's own guards.
  owner: your-team
rules:
  - id: team.model-card-names-model
    title: the model card names its model
    description: An auditor can tell which model a deploy serves.
    severity: medium
    facts: [model_card]
    when: "model_card.present"
    assert: "model_card.declared.model != null"
    message: "{{ model_card.path }} does not say which model it describes"
    remedy:
      action: abort
      hint: Add "model" to the model card (wfgy-rules lock --model NAME).
"""

_POLICY_TEST = """\
# yaml-language-server: $schema=https://wfgy-rules.dev/schemas/policy-test.schema.json
# Run with: wfgy-rules test
apiVersion: wfgy-rules/v1
kind: PolicyTest
policies: [team.yaml]
cases:
  - name: a card that names its model passes
    facts: {model_card: {present: true, path: model-card.json, declared: {model: acme/llm-7b}}}
    expect: {team.model-card-names-model: pass}
  - name: a card without a model fails
    facts: {model_card: {present: true, path: model-card.json, declared: {}}}
    expect: {team.model-card-names-model: fail}
  - name: no card, nothing to check
    facts: {model_card: {present: false, path: model-card.json, declared: {}}}
    expect: {team.model-card-names-model: skip}
"""


def starter_files(root: Path) -> dict[str, str]:
    """File name (relative to ``root``) → text, for the directory as it is now."""
    model_dir = _model_dir(root)
    prompt_dirs = [name for name in _PROMPT_DIRS if (root / name).is_dir()]
    env_example = root / ".env.example"
    secrets = _required_secrets(env_example) if env_example.is_file() else []
    providers = ["  model_card: {path: model-card.json}         # write it with: wfgy-rules lock"]
    runtime = "  runtime: {packages: [torch, transformers, tokenizers]" + (f", model_dir: {_flow(model_dir)}}}" if model_dir else "}")
    providers.append(runtime + ("" if model_dir else "   # add model_dir: ./model when there is one"))
    if env_example.is_file():
        providers.append("  env: {declared: .env.example}" + ("   # its '# secret' entries are judged under secrets:" if secrets else ""))
    if secrets:
        providers += [
            "  secrets:",
            f"    required: [{', '.join(secrets)}]",
            "    sources:                          # looked in, in this order",
            "      - {type: env}",
            "      - {type: dir, path: /run/secrets}   # secret files (Docker, Kubernetes); Vault Agent: /vault/secrets",
        ]
    globs = [f"{name}/**/*" for name in prompt_dirs]
    providers.append("  prompts: {" + (f"paths: {json.dumps(globs)}, " if globs else "") + "vars: prompt_vars.yaml}")
    providers.append("  nvml: {}")
    config = "\n".join([
        "# yaml-language-server: $schema=https://wfgy-rules.dev/schemas/config.schema.json",
        "# Written by `wfgy-rules init`. Run the gate with: wfgy-rules eval   (see: wfgy-rules diff)",
        "apiVersion: wfgy-rules/v1",
        "kind: Config",
        "policies: [builtin, ./policies]     # the four shipped guards + this team's own",
        "fail_on: low",
        "ignore_versions: [patch]",
        "secret_timeout: 90s",
        "cuda_probe: {mode: fallback}",
        "providers:",
        *providers,
        "",
    ])
    return {CONFIG: config, POLICY: _POLICY, POLICY_TEST: _POLICY_TEST, PROMPT_VARS: _prompt_vars(root, globs)}


def _model_dir(root: Path) -> str | None:
    candidates = [root / "model", root / "models"]
    candidates += sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if (root / "models").is_dir():
        candidates += sorted(p for p in (root / "models").iterdir() if p.is_dir())
    for path in candidates:
        if path.is_dir() and any((path / name).is_file() for name in _MODEL_FILES):
            return "./" + path.relative_to(root).as_posix()
    return None


def _required_secrets(path: Path) -> list[str]:
    from wfgy_rules.providers.env.dotenv import parse_env_file

    try:
        entries = parse_env_file(path)
    except (ProviderError, WfgyError, OSError):
        return []  # the env provider will say what is wrong with it, by file and line
    return [e.name for e in entries if e.secret and e.required]


def _prompt_vars(root: Path, globs: list[str]) -> str:
    lines = [
        "# yaml-language-server: $schema=https://wfgy-rules.dev/schemas/prompt-vars.schema.json",
        "# The variables prompt templates may use: a default, or required: true when the",
        "# application always passes it. Placeholders with neither fail Prompt Lint.",
        "apiVersion: wfgy-rules/v1",
        "kind: PromptVars",
    ]
    found = _placeholders(root, globs) if globs else []
    if not found:
        return "\n".join([*lines, "vars: {}", ""])
    lines += ["vars: {}", "# Found in the prompts and not declared yet: replace 'vars: {}' with 'vars:' and uncomment", "# vars:"]
    lines += [f"#   {name}: {{required: true}}      # {where}" for name, where in found]
    return "\n".join([*lines, ""])


def _placeholders(root: Path, globs: list[str]) -> list[tuple[str, str]]:
    from wfgy_rules.providers import registry
    from wfgy_rules.providers.base import ProviderContext

    try:
        facts: dict[str, Any] = registry.load("prompts").collect({"paths": globs}, ProviderContext(root, dict(os.environ)))
    except (ProviderError, WfgyError, OSError):
        return []
    seen: dict[str, str] = {}
    for item in facts.get("undeclared", []):
        seen.setdefault(item["name"], f"{item['path']}:{item['line']}")
    return sorted(seen.items())


def _flow(text: str) -> str:
    return text if all(c.isalnum() or c in "./_-" for c in text) else json.dumps(text)
