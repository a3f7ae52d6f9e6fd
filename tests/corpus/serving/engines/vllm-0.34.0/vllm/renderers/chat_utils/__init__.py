# SPDX-License-Identifier: Apache-2.0
# SPDX-FileCopyrightText: Copyright contributors to the vLLM project

from .chat_message import (
    has_non_text_content,
    parse_chat_message_content,
    parse_chat_message_content_parts,
    parse_chat_messages,
    parse_chat_messages_async,
)
from .chat_template import (
    ChatTemplateConfig,
    load_chat_template,
    validate_chat_template,
)
from .content_parser import PROMPT_EMBEDS_PLACEHOLDER_TOKEN
from .item_tracker import (
    AsyncMultiModalItemTracker,
    BaseMultiModalItemTracker,
    MultiModalItemTracker,
)
from .tool_call import get_tool_call_id_type, make_tool_call_id
from .types import *
from .types import __all__ as all_types

__all__ = [
    *all_types,
    "ChatTemplateConfig",
    "load_chat_template",
    "validate_chat_template",
    "get_tool_call_id_type",
    "make_tool_call_id",
    "BaseMultiModalItemTracker",
    "MultiModalItemTracker",
    "AsyncMultiModalItemTracker",
    "has_non_text_content",
    "parse_chat_message_content",
    "parse_chat_message_content_parts",
    "parse_chat_messages",
    "parse_chat_messages_async",
    "PROMPT_EMBEDS_PLACEHOLDER_TOKEN",
]
