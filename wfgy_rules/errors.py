"""The one error hierarchy of wfgy-rules.

Every error a user can cause carries the file (and line/column where there is one) and
renders as a single line: ``FILE:LINE:COL: json.path: message``. The CLI maps the classes
to exit codes in one place (`cli.py`): `WfgyError` subclasses are exit 2 (invalid input),
anything else is exit 3 (internal error).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One located problem in an input file."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    where: str = ""  # a JSON path into the document, e.g. ``rules[2].assert``

    def __str__(self) -> str:
        place = self.path
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        where = f" {self.where}:" if self.where else ""
        return _one_line(f"{place}:{where} {self.message}")


class WfgyError(Exception):
    """Invalid input of any kind: usage, config, policy, facts file (exit 2)."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []

    def lines(self) -> list[str]:
        """The one-line messages to print, one per problem."""
        return [str(p) for p in self.problems] or [_one_line(str(self))]


def _one_line(text: str) -> str:
    """Line breaks that came from the input (a key such as ``"a\\nb"``) shown escaped."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class PolicyError(WfgyError):
    """A policy, config or policy-test file failed to load (YAML, schema or compile stage)."""


class UsageError(WfgyError):
    """A command-line usage mistake (bad option value, missing file)."""


class ProviderError(Exception):
    """A fact provider could not gather its facts.

    Raised inside `Provider.collect`; the engine turns it into `error` results for every
    rule that reads the provider, and the run goes on. The message must never contain a
    secret value.
    """


class EvaluationError(Exception):
    """An expression or operator could not be evaluated for one rule (an `error` result)."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate (difflib ratio ≥ 0.6), else ``""``.

    The one spelling hint of every error message: unknown keys, providers, functions, names,
    rule ids and selections.
    """
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
