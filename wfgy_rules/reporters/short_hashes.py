"""Hashes as a person reads them in text output: the first 12 hex digits, as ``git`` shows a
commit. A run of 40 to 64 hex digits standing alone (a sha1 or sha256, in a message, a value
or a diff cell) is cut to ``SHORT``; the JSON, SARIF, JUnit and jsonl reports keep every digit.
Twelve digits name a fingerprint unambiguously in practice; a model card may pin as few as 7.
"""

from __future__ import annotations

import re

SHORT = 12
_HASH = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{40,64}(?![0-9A-Za-z])")


def shorten(text: str) -> str:
    """``text`` with every full-length hash cut to its first `SHORT` digits."""
    return _HASH.sub(lambda match: match.group()[:SHORT], text)
