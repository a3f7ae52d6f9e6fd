"""The Jinja extension Hugging Face chat templates rely on, shared by every parser of them.

transformers renders chat templates with ``{% generation %}…{% endgeneration %}`` marking
the assistant's text; plain Jinja does not know the tag. jinja2 is imported on first use.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def generation_block() -> type:
    """The ``{% generation %}`` extension class (parse only: its body is kept as a scope)."""
    from jinja2 import nodes
    from jinja2.ext import Extension

    class GenerationBlock(Extension):
        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

    return GenerationBlock
