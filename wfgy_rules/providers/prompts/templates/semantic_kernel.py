"""Placeholders of Microsoft Semantic Kernel prompt templates (``skprompt.txt``, ``semantic_kernel``).

In Semantic Kernel's own template language every ``{{ … }}`` block is one of:

* ``{{$name}}``: a variable; reported as ``name`` (without the ``$``), at the name;
* ``{{plugin.function}}``, ``{{time.now}}``, ``{{recall $input}}``,
  ``{{fn arg1=$a arg2='x'}}``: a function call; the function is not a variable, the ``$``
  arguments (``$input``, ``$a``) are;
* ``{{'literal'}}`` / ``{{"literal"}}``: text.

Quoted strings (with ``\\`` escapes) never hold variables. An unclosed ``{{`` is a problem.
Names are reported as written; Semantic Kernel matches them case-insensitively at run time.
"""

from __future__ import annotations

import re

from wfgy_rules.providers.prompts.templates.scan_results import (
    Locator,
    Placeholder,
    SyntaxProblem,
)

_TOKEN = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\$([A-Za-z_][\w]*)""")


def scan_semantic_kernel(text: str) -> tuple[list[Placeholder], list[SyntaxProblem]]:
    at = Locator(text)
    found, problems, position = [], [], 0
    while (start := text.find("{{", position)) != -1:
        end = _block_end(text, start + 2)
        if end == -1:
            problems.append(SyntaxProblem(*at(start), "unclosed '{{'"))
            break
        for match in _TOKEN.finditer(text, start + 2, end):
            if match.group(1):
                found.append(Placeholder(match.group(1), *at(match.start(1))))
        position = end + 2
    return found, problems


def _block_end(text: str, position: int) -> int:
    """The offset of the ``}}`` that closes a block, skipping quoted strings."""
    while True:
        end = text.find("}}", position)
        quote = min((q for q in (text.find("'", position), text.find('"', position)) if q != -1), default=-1)
        if end == -1 or quote == -1 or quote > end:
            return end
        closing = _TOKEN.match(text, quote)
        if closing is None:  # an unmatched quote: the block ends at the next }}
            return end
        position = closing.end()
