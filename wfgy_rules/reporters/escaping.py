r"""How each format escapes what it did not write itself: one function per format, called by
that format's reporter at its single point of output.

Every string a report shows may come from the repository: a prompt file's name, a fact
value, an env var *name*, a rule title or message in a team policy, evidence. A file named
``a.txt\n::add-mask::x`` must not start a line that the GitHub runner reads as a workflow
command, an ``ESC ]0;…`` must not retitle the terminal, and ``@org/team`` must not notify
anyone from a pull-request comment. So:

- `text` (``--format text``, ``explain``, ``diff``): control characters (C0, DEL, C1, the Unicode line
  and paragraph separators, the bidirectional overrides) become visible escapes: ``\n``,
  ``\r``, ``\t``, ``\x1b``, ``\u2028``. No fact can end a line, so every line starts with
  the reporter's own text and never with ``::``. A backslash is left as it is (Windows paths
  stay readable), so ``\x1b`` in the output is either an escaped ESC or those four
  characters; the JSON report tells them apart.
- `github_data` / `github_property` (``--format github``): the runner's own escapes (``%``,
  CR, LF; in a property also ``:`` and ``,``), and every other control character as `text`
  shows it.
- `markdown` / `markdown_code` (``--format markdown``, the job summary, ``diff``): markup characters
  backslash-escaped, line breaks as ``<br>`` (a message cannot break the table), other
  control characters as `text` shows them, ``@`` followed by a zero-width space (no mention,
  no e-mail autolink) and URL schemes and ``www.`` split the same way (no autolink).
- `xml` (``--format junit``): characters XML 1.0 cannot carry, even as references, as
  `text` shows them; ElementTree escapes the rest.
- `json` (``--format json``, ``sarif``): JSON already escapes C0 in strings; DEL, C1 and the
  line separators, which it may leave raw, become ``\uXXXX`` too (still the same JSON).
"""

from __future__ import annotations

import re

# What a terminal, a log viewer or a line-based parser may act on.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text(value: str) -> str:
    """Plain text for a terminal or a CI log: no control character, so no line break of its own."""
    return _CONTROL.sub(_visible, value)


# --- GitHub workflow commands -------------------------------------------------------------

_DATA_ESCAPES = (("%", "%25"), ("\r", "%0D"), ("\n", "%0A"))
_PROPERTY_ESCAPES = (*_DATA_ESCAPES, (":", "%3A"), (",", "%2C"))


def github_data(value: str) -> str:
    """A command's message: ``%``, CR and LF percent-encoded, other control characters as `text`."""
    for raw, encoded in _DATA_ESCAPES:
        value = value.replace(raw, encoded)
    return text(value)


def github_property(value: str) -> str:
    """A command's property value: as `github_data`, plus ``:`` and ``,``."""
    for raw, encoded in _PROPERTY_ESCAPES:
        value = value.replace(raw, encoded)
    return text(value)


# --- Markdown (GitHub-flavoured) ----------------------------------------------------------

_MARKUP = re.compile(r"[\\`*_\[\]<>|~&]")
_ZWSP = "\u200b"
# @mentions and e-mail autolinks; URL schemes and www. that GFM would autolink
_LINKISH = re.compile(r"@|(?i:(?<![a-z0-9])(?:https?|ftps?|mailto|xmpp|www)(?=[:.]))")


def markdown(value: str) -> str:
    """Plain text safe inside a table cell (see the module docstring)."""
    lines = []
    for line in value.splitlines():
        line = text(_MARKUP.sub(r"\\\g<0>", line))
        lines.append(_LINKISH.sub(lambda m: m.group() + _ZWSP, line))
    return "<br>".join(lines)


def markdown_code(value: str) -> str:
    """A code span (GFM shows its text as is: no mention, no link), or `markdown` when
    ``value`` holds a backtick or a control character."""
    if "`" in value or _CONTROL.search(value):
        return markdown(value)
    escaped = value.replace("|", "\\|")  # GFM reads a bare | as a cell border, even in code
    return f"`{escaped}`"


# --- XML and JSON -------------------------------------------------------------------------

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml(value: str) -> str:
    """``value`` without the characters XML 1.0 forbids (each replaced by its visible escape)."""
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), value)


_RAW_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json(document: str) -> str:
    """JSON text (``json.dumps(…, ensure_ascii=False)``) with the control characters it leaves
    raw as ``\\uXXXX``: they can only stand inside strings, so the document is the same."""
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", document)
