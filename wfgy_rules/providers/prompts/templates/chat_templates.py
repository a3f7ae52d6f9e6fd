"""Chat templates: the names their runtimes pass them, and how one is recognised.

A chat template is a Jinja template that a serving runtime renders with the conversation. A
file is read as one when its name says so (``chat_template.jinja``,
``tool_chat_template_llama3.1_json.jinja``), when config says so (``syntax: chat_template``),
or by its content: a Jinja template that iterates or indexes a free ``messages``
(``{% for message in messages %}``, ``messages[0]``, ``messages | length``, or through
``{% set loop_messages = messages %}``), as vLLM's
``examples/template_*.jinja`` and any ``llama3.jinja`` in a prompts folder do.

`RUNTIME_NAMES` are the names the runtimes supply, so they are never undeclared:

* transformers (``apply_chat_template`` / ``render_jinja_template``): ``messages``,
  ``tools``, ``documents``, ``add_generation_prompt``, the tokenizer's special tokens
  (``bos_token``, ``eos_token``, ``unk_token``, ``pad_token``, …), every
  ``chat_template_kwargs`` key, and the globals ``raise_exception``, ``strftime_now``
  (the ``tojson`` filter too);
* vLLM (``chat_template_kwargs`` of a request, ``continue_final_message``), and the switches
  its reasoning and tool parsers document: ``enable_thinking``, ``reasoning_effort``;
* llama.cpp (minja / ``common_chat_templates_apply``): ``date_string``, ``tools``,
  ``builtin_tools``, ``custom_tools``, ``tools_in_user_message`` (the Llama 3.x templates'
  switches), ``enable_thinking``.

`placeholders.chat_template_undeclared(templates)` judges the templates of a model directory the
way the ``prompts`` provider judges a chat template file, with these names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from wfgy_rules.providers.prompts.templates.scan_results import Placeholder

RUNTIME_NAMES: frozenset[str] = frozenset(
    {
        # transformers
        "messages", "tools", "documents", "add_generation_prompt", "bos_token", "eos_token",
        "unk_token", "pad_token", "sep_token", "cls_token", "mask_token", "raise_exception",
        "strftime_now", "tojson",
        # vLLM
        "continue_final_message", "enable_thinking", "reasoning_effort",
        # llama.cpp / minja (Llama 3.x tool templates)
        "date_string", "builtin_tools", "custom_tools", "tools_in_user_message",
    }
)

_NAMED = re.compile(r"(^|[_.-])chat[_-]?template([_.-]|$)", re.IGNORECASE)
_USES_MESSAGES = re.compile(r"\bfor\s+\w+(?:\s*,\s*\w+)*\s+in\s+messages\b|\bmessages\s*(?:\[|\|)|\bset\s+\w+\s*=\s*messages\b")


def named_chat_template(stem: str) -> bool:
    """Whether a Jinja file's name (without its suffix) says it is a chat template."""
    return bool(_NAMED.search(stem))


def is_chat_template(text: str, placeholders: Sequence[Placeholder]) -> bool:
    """Whether a parsed Jinja template iterates or indexes a free ``messages``."""
    return any(p.name == "messages" for p in placeholders) and bool(_USES_MESSAGES.search(text))
