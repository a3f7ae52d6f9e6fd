"""``wfgy-rules validate [PATH…]``: check files without gathering facts.

Each file is recognised by its ``kind`` (``Policy``, ``Config``, ``PolicyTest``,
``PromptVars``), a config also by its name (``wfgy.yaml``, where ``apiVersion``/``kind`` may
be omitted), a model card (JSON) by a name containing ``model-card``. A directory
contributes its wfgy-rules files (a top-level ``apiVersion: wfgy-rules/…`` line, ``wfgy.yaml``
files, and model cards); Kubernetes manifests, workflows and other YAML living beside them are
left alone. A file named explicitly must be one of the kinds above, unless
``--ignore-unknown`` (the pre-commit hook, which passes every YAML file a commit touches)
leaves it alone as a directory would. Only a wfgy-rules document must be alone in its file:
a multi-document stream (``---``) holding one is an error at the second document; one
holding none (a Kubernetes manifest of several objects) is not a wfgy-rules file, whatever
its length.

Policies go through the very loader ``eval`` uses, cross-checked together (duplicate rule
ids across files); a model card through the card's own loader (strict JSON, then its schema).
A config is checked with everything it references, as ``eval`` would load it: its model card
(``providers.model_card.path``, default ``model-card.json``) and prompt variables file
(``providers.prompts.vars``) when they exist (`wfgy_rules.run.config_documents`: ``eval``
refuses them with the same lines), the policies it names (cross-checked, with its per-rule
overrides), the rule each waiver names (a waiver matching no loaded rule is an error here,
with a hint; ``eval`` only warns about it), and the policy tests beside its own policies (the
``PolicyTest`` files under a policy directory, ``NAME.test.yaml`` beside a policy file
``NAME.yaml``). Every problem of every file is printed once as ``FILE:LINE:COL: path:
message``; exit 2 on any. With no paths: the config (``--config`` or the nearest
``wfgy.yaml``, said on stderr) and everything it references.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from pathlib import Path

from wfgy_rules.documents.schema import validate
from wfgy_rules.documents.yamlio import Document, load_file, load_stream, load_text, read_text
from wfgy_rules.errors import PolicyError, Problem, WfgyError, did_you_mean
from wfgy_rules.policy.loader import BUILTIN, load_policies, policy_files
from wfgy_rules.providers.model.model_card import load_model_card
from wfgy_rules.run.config import DEFAULT_CONFIG, Config, load_config, locate_config
from wfgy_rules.run.config_documents import document_problems
from wfgy_rules.run.rule_selection import apply_config
from wfgy_rules.shown_paths import shown_path

_API_VERSION = re.compile(rb"(?m)^apiVersion:[ \t]*['\"]?wfgy-rules/")
_SCHEMA_OF_KIND = {"PolicyTest": "policy-test", "PromptVars": "prompt-vars"}
_UNKNOWN = "unknown file: expected kind Policy, Config, PolicyTest or PromptVars, or a model-card JSON"


def run(paths: list[str], config: str | None, ignore_unknown: bool = False) -> int:
    if not paths:
        located = locate_config(config)
        if located.note:
            print(located.note, file=sys.stderr)
        problems, referenced = check_config(located.path)
        _raise(problems)
        print(f"ok: {len(referenced) + (1 if located.path else 0)} file(s) valid")
        return 0
    problems: list[Problem] = []
    policies: list[str] = []
    files = _expand(paths, ignore_unknown)
    checked: set[str] = set()  # shown paths: a policy named and referenced by a config counts once
    for path in files:
        try:
            kind = _check_file(path, ignore_unknown)
        except WfgyError as exc:
            problems.extend(exc.problems or [Problem(str(path), str(exc))])
            continue
        if kind is None:
            continue
        checked.add(shown_path(path))
        if kind == "Policy":
            policies.append(str(path))
        elif kind == "Config":
            found, referenced = check_config(path)
            problems.extend(found)
            checked.update(referenced)
    if policies:
        try:
            load_policies(policies, Path.cwd())
        except PolicyError as exc:
            problems.extend(exc.problems)
    _raise(list(dict.fromkeys(problems)))  # a policy named and referenced by a config: once
    print(f"ok: {len(checked)} file(s) valid")
    return 0


def check_config(path: Path | None) -> tuple[list[Problem], set[str]]:
    """Every problem of a config and of what it references (as `eval` loads them), and the
    (shown) paths of the referenced files that were checked."""
    try:
        settings = load_config(path, documents=False)
    except WfgyError as exc:
        return exc.problems or [Problem(str(path), str(exc))], set()
    problems, documents = document_problems(settings.providers, settings.base_dir)
    referenced = set(documents)
    try:
        loaded = load_policies(settings.policies, settings.base_dir)
    except WfgyError as exc:
        return [*problems, *(exc.problems or [Problem(str(path), str(exc))])], referenced
    try:
        apply_config(loaded.rules, settings)
    except PolicyError as exc:
        problems.extend(exc.problems)
    problems.extend(_waiver_problems(settings, [rule.id for rule in loaded.rules]))
    referenced.update(policy.path for policy in loaded.policies)
    for test in map(shown_path, _policy_tests(settings)):
        referenced.add(test)
        try:
            _check_file(Path(test), ignore_unknown=False)
        except WfgyError as exc:
            problems.extend(exc.problems or [Problem(test, str(exc))])
    return problems, referenced


def _waiver_problems(settings: Config, ids: list[str]) -> list[Problem]:
    problems = []
    for position, waiver in enumerate(settings.waivers):
        pattern = waiver.get("rule", "")
        if not any(fnmatch.fnmatchcase(rule_id, pattern) for rule_id in ids):
            message = f"waiver for {pattern!r} matches no loaded rule{did_you_mean(pattern, ids)}"
            where = ("waivers", position, "rule")
            problems.append(settings.document.problem(where, message) if settings.document else Problem(settings.path or DEFAULT_CONFIG, message))
    return problems


def _policy_tests(settings: Config) -> list[Path]:
    """The policy tests beside the config's own policies (never the built-in packs' tests)."""
    found = []
    for source in settings.policies:
        if source == BUILTIN or source.startswith(BUILTIN + ":"):
            continue
        path = Path(source) if Path(source).is_absolute() else settings.base_dir / source
        if path.is_dir():
            found.extend(p for p, _ in policy_files([str(path)], settings.base_dir) if _kind(p) == "PolicyTest")
        else:
            beside = path.with_name(f"{path.stem}.test.yaml")
            found.extend([beside] if beside.is_file() else [])
    return found


def _kind(path: Path) -> str | None:
    """A file's ``kind``; None when it has none or does not parse (the policy loader, which
    reads every file of a policy directory, reports that)."""
    try:
        data = load_file(path).data
    except WfgyError:
        return None
    return data.get("kind") if isinstance(data, dict) else None


def _expand(paths: list[str], ignore_unknown: bool) -> list[Path]:
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))
            found.extend(p for p in candidates if _ours(p))
        elif not ignore_unknown or _ours(path):
            found.append(path)
    return found


def _ours(path: Path) -> bool:
    """Whether a file is a wfgy-rules file (a cheap look, before parsing)."""
    if path.suffix == ".json":
        return _is_model_card(path)
    if path.name == DEFAULT_CONFIG:
        return True
    try:
        with path.open("rb") as handle:
            return _API_VERSION.search(handle.read(64 * 1024)) is not None
    except OSError:
        return True  # let the loader report why it cannot be read


def _is_model_card(path: Path) -> bool:
    return path.suffix == ".json" and "model-card" in path.name


def _check_file(path: Path, ignore_unknown: bool) -> str | None:
    """Check one file on its own; its kind (``Policy`` and ``Config`` are checked later, with
    what they reference), or None for a file ``--ignore-unknown`` leaves alone."""
    shown = path.as_posix()
    if _is_model_card(path):
        load_model_card(path, shown)  # strict JSON, as the provider reads it
        return "ModelCard"
    document = _only_document(path, shown, ignore_unknown)
    if document is None:  # several documents, none of them ours
        return None
    data = document.data
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind is None and path.name == DEFAULT_CONFIG:
        kind = "Config"
    if kind in ("Policy", "Config"):
        return kind
    if kind in _SCHEMA_OF_KIND:
        _raise(validate(document, _SCHEMA_OF_KIND[kind]))
    elif ignore_unknown and not _owned(data):
        return None
    else:
        _raise([document.problem((), _UNKNOWN)])
    return kind


def _only_document(path: Path, shown: str, ignore_unknown: bool) -> Document | None:
    """The file's one document. A stream of several is an error at the second when one of
    them is a wfgy-rules document (``apiVersion: wfgy-rules/…``, or any in a ``wfgy.yaml``);
    when none is, the file is not ours: None with ``ignore_unknown``, else the error of any
    unknown file."""
    text = read_text(path, shown)
    try:
        return load_text(text, shown)
    except PolicyError as error:
        documents = _several_documents(text, shown, error)
    owned = [d for d in documents if path.name == DEFAULT_CONFIG or _owned(d.data)]
    if owned:
        kind = owned[0].data.get("kind") if isinstance(owned[0].data, dict) else None
        message = f"more than one YAML document (---): a wfgy-rules {kind or 'config'} must be the only document in its file"
        _raise([documents[1].problem((), message)])
    if not ignore_unknown:
        _raise([documents[0].problem((), _UNKNOWN)])
    return None


def _several_documents(text: str, shown: str, error: PolicyError) -> list[Document]:
    """The documents of a stream (its own error when it has one), when reading it as one
    document failed with ``error`` because there are several; else ``error`` is raised."""
    documents = load_stream(text, shown)
    if len(documents) < 2:
        raise error
    return documents


def _owned(data: object) -> bool:
    return isinstance(data, dict) and str(data.get("apiVersion", "")).startswith("wfgy-rules/")


def _raise(problems: list[Problem]) -> None:
    if problems:
        raise PolicyError("invalid files", problems)
