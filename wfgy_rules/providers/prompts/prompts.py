"""``prompts``: the variables prompt templates expect, against the ones the app declares.

Config (``providers.prompts`` in ``wfgy.yaml``; paths relative to ``wfgy.yaml``)::

    providers:
      prompts:
        paths: ["prompts/**/*"]        # globs; ** is any depth; the default
        vars: prompt_vars.yaml         # optional: the declared variables (below)
        syntax:                        # optional: glob -> syntax, the first match wins
          "prompts/legacy/*.txt": format
          "deploy/chat_template.jinja": chat_template
        max_file_bytes: 5242880        # larger files are not read (an ``errors`` entry)
        workers: auto                  # or a number; 1 scans in this process

Globs are matched as `wfgy_rules.providers.file_globs` documents: hidden names only when a
pattern names them, regular files only, each directory entered once. A configured glob that
matches no file is an ``errors`` entry (``prompts path promts/**/* matches no file (relative
to wfgy.yaml)``); the default ``prompts/**/*`` may match nothing.

A file's syntax is the first matching ``syntax`` glob, else its name:
``chat_template.jinja`` (any ``.jinja``/``.j2``/``.jinja2`` whose name holds
``chat_template``) -> ``chat_template``; ``.jinja``/``.j2``/``.jinja2`` -> ``jinja2``;
``.mustache``/``.hbs``/``.handlebars`` -> ``mustache``. A syntax from config or name is the
only one scanned, and its syntax errors are ``errors``. Any other file is read by
`wfgy_rules.providers.prompts.templates.prompt_files`: ``.prompty`` bodies and the templates inside
``.yaml``/``.json`` documents (with the names those files declare), else the text is
**sniffed** and scanned for every syntax whose markers it holds (``{{$`` Semantic Kernel,
``{{``/``{%`` Jinja, ``${`` dollar, lone ``{name}`` fields); a sniffed text that does not
parse as Jinja is a ``notes`` entry, never an error. A Jinja template that iterates or indexes
``messages`` is a ``chat_template``. What each syntax counts as a placeholder is documented in
`wfgy_rules.providers.prompts.templates.placeholders`; the Jinja scope analysis (defaults, optional
switches) in `wfgy_rules.providers.prompts.templates.jinja_walker`.

``prompt_vars.yaml`` (schema ``schemas/prompt-vars.schema.json``)::

    apiVersion: wfgy-rules/v1
    kind: PromptVars
    vars:
      customer_name: {required: true, description: supplied by the app}
      tone: {default: friendly}
      locale: en-GB                    # short form: the value is the default
      persona: {description: documented, but nothing guarantees a value}

A variable is *resolved* by a ``default`` or by ``required: true`` (the application always
supplies it). A variable declared with neither is documentation only: it is listed in
``declared``, and its occurrences still count as ``undeclared`` (with ``declared: true``),
because nothing guarantees a value. A configured ``vars`` file that does not exist is a
fact (``vars.present: false``); one that is not valid YAML or breaks the schema stops the
run when the config loads (`wfgy_rules.providers.prompts.prompt_vars`, exit 2), and raises
`ProviderError` naming ``FILE:LINE:COL`` should it break after that.

Facts (``prompts.*``)::

    file_count: 3                      # files matched by ``paths``, readable or not
    files:                             # every matched file, sorted by path
      - path: prompts/support.j2
        syntax: jinja2                 # null: unreadable, or no syntax detected
        placeholders:                  # every occurrence, in source order per syntax
          - {name: customer_name, line: 3, column: 12, default: false, optional: false, syntax: jinja2}
          - {name: tone, line: 5, column: 9, default: true, optional: false, syntax: jinja2}  # | default('friendly')
          - {name: formal, line: 6, column: 7, default: false, optional: true, syntax: jinja2}  # {% if formal %}
    vars: {path: prompt_vars.yaml, present: true}            # path null when not configured
    declared: [customer_name, locale, persona, tone]          # sorted
    undeclared:                        # unresolved needed occurrences, by path, then syntax and position
      - {name: order_id, path: prompts/support.j2, line: 7, column: 4, syntax: jinja2, declared: false}
    optional:                          # unresolved names only ever tested: switches (first occurrence)
      - {name: formal, path: prompts/support.j2, line: 6, column: 7, syntax: jinja2}
    unused: [locale]                   # declared, used by no file (sorted); a file with a syntax
                                       # error uses every declared name its text mentions
    errors:                            # sorted by path, line
      - {path: prompts/broken.j2, line: 4, column: null, message: "unexpected '}'"}
      - {path: prompts/logo.png, line: null, column: null, message: binary file (contains NUL bytes)}
    notes:                             # sniffed files that are not what they looked like
      - {path: prompts/lc.txt, line: 1, column: null, message: "not Jinja (unexpected '}'); set `syntax:` for it"}

An occurrence is resolved by a default of its name anywhere in its file (``default: true``
on any occurrence), by a resolved declaration, by a declaration in the file itself (PyRIT
``parameters``, ``input_variables``, prompty / promptflow ``inputs``, a Semantic Kernel
``config.json`` beside ``skprompt.txt``), or by being a runtime name: of a ``chat_template``
(`wfgy_rules.providers.prompts.templates.chat_templates`: ``messages``, ``bos_token``,
``add_generation_prompt``, …) or of a VS Code ``*.prompt.md`` (``${file}``, ``${selection}``).
An unresolved name whose every unresolved occurrence is ``optional`` (only tested) is listed in
``optional``, not ``undeclared``. ``errors`` holds template syntax errors and
files that could not be read: too large, binary (NUL bytes), not UTF-8 (with the line and
column of the first bad byte), or an OS error. A BOM is skipped; CRLF counts as one line
end. Paths are POSIX and relative to ``wfgy.yaml``'s directory (absolute when outside it).

Each file is read, sniffed (most files hold no placeholder marker: they cost one read) and,
when it may hold placeholders, parsed. With ``workers: auto`` that work is shared by one
process per available core once the scan is big enough to pay for them (`PARALLEL_MIN_FILES`
files, or `PARALLEL_MIN_CHARS` bytes of text; reading and scanning live in
`wfgy_rules.providers.prompts.scanning`); ``workers: N`` asks for N. The walk that finds the
files stays in this process. The facts are identical, byte for byte and in order,
whatever the number of workers.

Worker processes never outlive the scan (`wfgy_rules.workers`): when the provider's timeout
runs out (``ctx.deadline``) they are killed and the provider fails with the timeout; on
SIGINT/SIGTERM likewise (they ignore SIGINT themselves, so a Ctrl-C in a terminal prints one
line, not one traceback per worker); and a worker whose parent dies, even by SIGKILL, ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import asdict
from typing import Any

from wfgy_rules.errors import ProviderError, WfgyError
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.file_globs import (
    base_prefix,
    glob_regex,
    matched_files,
    shown_under,
)
from wfgy_rules.providers.prompts.prompt_vars import load_prompt_vars, resolves
from wfgy_rules.providers.prompts.scanning import ScannedFile, error_entry, scan_all, workers_for
from wfgy_rules.providers.prompts.templates.placeholders import RUNTIME_NAMES, SYNTAXES
from wfgy_rules.providers.prompts.templates.prompt_files import FileScan

DEFAULT_PATHS = ("prompts/**/*",)
DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "prompts provider",
    "description": "Placeholders of prompt templates, against the variables prompt_vars.yaml declares.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "paths": {
            "title": "Prompt files",
            "description": "Globs relative to wfgy.yaml (** is any depth); a plain path is a file or a whole directory.",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "default": list(DEFAULT_PATHS),
        },
        "vars": {
            "title": "Declared variables",
            "description": "The prompt_vars.yaml file (relative to wfgy.yaml).",
            "type": "string",
            "minLength": 1,
        },
        "syntax": {
            "title": "Syntax by glob",
            "description": "Glob (relative to wfgy.yaml) -> template syntax; the first match wins over detection.",
            "type": "object",
            "additionalProperties": {"enum": list(SYNTAXES)},
        },
        "max_file_bytes": {
            "title": "Largest file",
            "description": "Files larger than this many bytes are not read (an errors entry).",
            "type": "integer",
            "minimum": 1,
            "default": DEFAULT_MAX_FILE_BYTES,
        },
        "workers": {
            "title": "Worker processes",
            "description": "Processes that parse templates; auto: one per core when there is much template text.",
            "anyOf": [{"const": "auto"}, {"type": "integer", "minimum": 1}],
            "default": "auto",
        },
    },
}


class PromptsProvider:
    """Facts about prompt placeholders (see the module docstring)."""

    config_schema = CONFIG_SCHEMA

    def collect(self, config: Mapping[str, Any], ctx: ProviderContext) -> dict[str, Any]:
        vars_fact, resolved = _load_vars(config.get("vars"), ctx)
        walk_errors: list[dict[str, Any]] = []
        matched = matched_files(config.get("paths", DEFAULT_PATHS), ctx, lambda shown, reason: walk_errors.append(error_entry(shown, reason)),
                                setting="prompts path" if "paths" in config else None)
        syntaxes = [(glob_regex(glob), syntax) for glob, syntax in config.get("syntax", {}).items()]
        limit = config.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES)
        work = [(path, shown, _configured(shown, syntaxes) if syntaxes else None, limit) for shown, path in matched]
        with closing(scan_all(work, workers_for(config.get("workers", "auto"), matched), ctx.remaining())) as scanned:
            return _facts(scanned, walk_errors, vars_fact, resolved)


# --- prompt_vars.yaml ---------------------------------------------------------------------


def _load_vars(spec: str | None, ctx: ProviderContext) -> tuple[dict[str, Any], dict[str, bool]]:
    """The ``vars`` fact and {declared name: resolved}."""
    if spec is None:
        return {"path": None, "present": False}, {}
    path = ctx.resolve(spec)
    shown = shown_under(path, base_prefix(ctx))
    if not path.is_file():
        return {"path": shown, "present": False}, {}
    try:
        declared = load_prompt_vars(path, shown)
    except WfgyError as exc:
        lines = exc.lines()
        raise ProviderError(lines[0] + (f" (and {len(lines) - 1} more)" if len(lines) > 1 else "")) from None
    return {"path": shown, "present": True}, {n: resolves(v) for n, v in declared.items()}


def _configured(shown: str, syntaxes: list[tuple[re.Pattern[str], str]]) -> str | None:
    return next((syntax for regex, syntax in syntaxes if regex.fullmatch(shown)), None)


# --- facts --------------------------------------------------------------------------------


def _facts(
    scanned: Iterable[tuple[str, tuple[ScannedFile, FileScan | None] | None]],
    walk_errors: list[dict[str, Any]],
    vars_fact: dict[str, Any],
    resolved: dict[str, bool],
) -> dict[str, Any]:
    facts, errors, notes = [], list(walk_errors), []
    undeclared, optional = [], []
    mentioned: set[str] = set()  # what the files that did not parse may use
    for shown, found in scanned:
        if found is None:  # most files: nothing in them
            facts.append({"path": shown, "syntax": None, "placeholders": []})
            continue
        file, scan = found
        result = scan or _NOTHING
        placeholders = [{**asdict(p), "syntax": syntax} for syntax, p in result.placeholders]
        facts.append({"path": file.path, "syntax": result.syntax or file.syntax, "placeholders": placeholders})
        if file.error:
            errors.append(file.error)
        mentioned |= file.mentions
        if result is _NOTHING:
            continue
        errors += [error_entry(file.path, p.message, p.line, p.column) for p in result.problems]
        notes += [error_entry(file.path, p.message, p.line, p.column) for p in result.notes]
        if placeholders:
            needed, switches = _unresolved(file.path, placeholders, resolved, result, file.declared)
            undeclared += needed
            optional += switches
    used = {p["name"] for fact in facts for p in fact["placeholders"]} | mentioned
    return {
        "file_count": len(facts),
        "files": facts,
        "vars": vars_fact,
        "declared": sorted(resolved),
        "undeclared": undeclared,
        "optional": optional,
        "unused": sorted(set(resolved) - used),
        "errors": _sorted(errors),
        "notes": _sorted(notes),
    }


_NOTHING = FileScan(None)  # a file with nothing to scan


def _sorted(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (e["path"], e["line"] or 0, e["column"] or 0, e["message"]))


def _unresolved(
    path: str, placeholders: list[dict[str, Any]], resolved: dict[str, bool], result: FileScan, declared: frozenset[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The file's unresolved occurrences that are needed, and its optional switches (first occurrence each).

    Resolved: a default anywhere in the file (for that name, throughout the file), a resolved
    declaration in prompt_vars.yaml, a declaration in the file itself, a runtime name of the
    occurrence's syntax or of the file's kind. A name whose every unresolved occurrence is only
    tested is an optional switch, not a missing value."""
    defaulted = {p["name"] for p in placeholders if p["default"]} | result.declared | result.runtime | declared
    open_ = [
        p for p in placeholders
        if p["name"] not in defaulted and not resolved.get(p["name"]) and p["name"] not in RUNTIME_NAMES.get(p["syntax"], ())
    ]
    needed_names = {p["name"] for p in open_ if not p["optional"]}
    needed = [{**_occurrence(path, p), "declared": p["name"] in resolved} for p in open_ if not p["optional"]]
    first: dict[str, dict[str, Any]] = {}
    for p in open_:
        if p["name"] not in needed_names:
            first.setdefault(p["name"], _occurrence(path, p))
    return needed, list(first.values())


def _occurrence(path: str, placeholder: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": placeholder["name"],
        "path": path,
        "line": placeholder["line"],
        "column": placeholder["column"],
        "syntax": placeholder["syntax"],
    }
