"""What a placeholder scanner returns, and the offset -> position map every scanner shares.

`Placeholder` and `SyntaxProblem` are the values of `wfgy_rules.providers.prompts.templates.placeholders.scan`; they live
here so that the table-driven scanners (`wfgy_rules.providers.prompts.templates.placeholders`) and the Jinja walker
(`wfgy_rules.providers.prompts.templates.jinja_walker`) both depend on this module and never on each other's.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Placeholder:
    """One occurrence of a variable in a template."""

    name: str
    line: int
    column: int
    default: bool = False  # an inline default or a definedness guard resolves it
    optional: bool = False  # only tested (an optional switch), never needed as a value


@dataclass(frozen=True)
class SyntaxProblem:
    """A template syntax error; ``column`` is None where the parser does not know it."""

    line: int
    column: int | None
    message: str


class Locator:
    """Offset -> (line, column), both 1-based, for text with ``\\n`` line ends."""

    def __init__(self, text: str):
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def __call__(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1
