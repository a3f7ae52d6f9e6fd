"""The declared runtime against the effective one, from one fact bundle.

* **model card ↔ runtime**: every ``model_card.declared`` field, paired through
  `wfgy_rules.diff.pairings.PAIRINGS`; packages the runtime reports that the card does not
  declare are ``extra``. A fingerprint that drifted names what changed, file by file, from
  the card's ``files`` (`wfgy_rules.diff.records`); the card's config.json and
  generation_config.json values are compared in section ``model files``.
* **env**: each declared variable (``env.declared``) against the environment: set (with the
  kind of its value: ``openai_key``, ``url``, …), empty, or missing; a set variable that looks
  like a misspelling of a declared one (``env.near_misses``) is ``extra``.
* **secrets**: each required secret against the sources: present (and where), empty, missing.
* **prompt variables**: variables declared in ``prompt_vars.yaml`` against the placeholders
  used in the prompt files.

Only names, kinds, sources, versions, fingerprints and counts are read: never a value of an
environment variable or a secret (facts hold none).

Paths in the facts are relative to the config's directory; the rows show them as every other
command does, from the working directory (`wfgy_rules.shown_paths`): run from the repository
root with ``--config deploy/wfgy.yaml``, a prompt is ``deploy/prompts/a.jinja:4``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from wfgy_rules.diff import Diff, Row, records
from wfgy_rules.diff.pairings import COMPARISONS, PAIRINGS
from wfgy_rules.model import Bundle
from wfgy_rules.shown_paths import shown_path

PROVIDERS = ("model_card", "runtime", "nvml", "env", "secrets", "prompts")
MODEL = "model_card ↔ runtime"


def declared_vs_effective(bundle: Bundle, base_dir: Path | None = None) -> Diff:
    """``base_dir``: the config's directory, which the facts' paths are relative to (None: as they are)."""
    def shown(path: Any) -> Any:
        if base_dir is None or not isinstance(path, str) or Path(path).is_absolute():
            return path
        return shown_path(base_dir / path)

    rows = []
    for section in (_model_card, _model_files, _env, _secrets, _prompts):
        rows.extend(sorted(section(bundle, shown), key=lambda row: _ORDER[row.mark]))  # stable: drift first
    return Diff("declared-vs-effective", tuple(rows))


_ORDER = {"drifted": 0, "missing": 1, "extra": 2, "equal": 3, "unpaired": 4}


def _get(bundle: Bundle, path: str) -> tuple[Any, str]:
    """The fact at a dotted path, and why it is absent ("" when present)."""
    provider, *keys = path.split(".")
    if provider in bundle.errors:
        return None, bundle.errors[provider]
    node: Any = bundle.facts.get(provider)
    if node is None:
        return None, f"no {provider} facts"
    facts = node
    for key in keys:
        if not isinstance(node, dict) or node.get(key) is None:
            reason = facts.get("error") if isinstance(facts, dict) else None
            return None, f"{provider}: {reason}" if isinstance(reason, str) and reason else "not found"
        node = node[key]
    return node, ""


def _model_card(bundle: Bundle, shown: Callable[[Any], Any]) -> list[Row]:
    card, why = _get(bundle, "model_card")
    if card is None:
        return [Row(MODEL, "model_card", None, None, "missing", note=why)] if why != "no model_card facts" else []
    if not card.get("present"):
        return [Row(MODEL, "model_card", None, None, "missing", note=f"no model card at {shown(card.get('path'))}")]
    declared = card.get("declared") or {}
    packages, _ = _get(bundle, "runtime.packages")
    packages = packages if isinstance(packages, dict) else {}
    paired = {key for key, _, _ in PAIRINGS}

    def effective(path: str) -> Any:
        return _get(bundle, path)[0]

    rows = []
    for key in sorted(declared):
        if key == "files":
            continue  # shown through the fingerprints and in section "model files"
        value = declared[key]
        targets = [(path, how) for k, path, how in PAIRINGS if k == key]
        if not targets and key in packages:
            targets = [(f"runtime.packages.{key}", "version")]
        if not targets:
            rows.append(Row(MODEL, key, value, None, "unpaired", note="no effective counterpart"))
            continue
        for path, how in targets:
            found, why = _get(bundle, path)
            field = f"{key} ↔ {path}"
            if found is None:
                rows.append(Row(MODEL, field, value, None, "missing", note=why))
                continue
            mark, level, note = COMPARISONS[how](value, found)
            if mark == "drifted" and key in records.FINGERPRINTS:
                note = records.fingerprint_note(key, declared.get("files"), effective)
            rows.append(Row(MODEL, field, value, found, mark, level, note))
    for name in sorted(packages):
        if name not in declared and name not in paired and packages[name] is not None:
            rows.append(Row(MODEL, f"runtime.packages.{name}", None, packages[name], "extra", note="installed, not in the model card"))
    return rows


def _model_files(bundle: Bundle, shown: Callable[[Any], Any]) -> list[Row]:
    card, _ = _get(bundle, "model_card.declared")
    return records.settings_rows(card.get("files") if isinstance(card, dict) else None, lambda path: _get(bundle, path)[0])


def _env(bundle: Bundle, shown: Callable[[Any], Any]) -> list[Row]:
    env, why = _get(bundle, "env")
    if env is None:
        return [Row("env", "env", None, None, "missing", note=why)] if why != "no env facts" else []
    names = set(env.get("names") or ())
    empty = set(env.get("empty") or ())
    kinds = env.get("kinds") or {}
    misses = {m.get("declared"): m.get("found") for m in env.get("near_misses") or () if isinstance(m, dict)}
    rows = []
    for entry in env.get("declared") or ():
        name = entry.get("name")
        wanted = ("required" if entry.get("required") else "optional") + (", secret" if entry.get("secret") else "")
        if name in empty:
            rows.append(Row("env", name, wanted, "empty", "drifted", note="set but empty"))
        elif name in names:
            rows.append(Row("env", name, wanted, f"set ({kinds[name]})" if name in kinds else "set", "equal"))
        else:
            if misses.get(name):
                rows.append(Row("env", name, wanted, None, "missing", note=f"not set; {misses[name]} is set"))
            elif entry.get("required"):
                rows.append(Row("env", name, wanted, None, "missing", note="not set"))
            else:
                rows.append(Row("env", name, wanted, "not set", "equal", note="optional"))
    for declared, found in sorted((d, f) for d, f in misses.items() if d and f):
        rows.append(Row("env", found, None, "set", "extra", note=f"looks like a misspelling of {declared}"))
    return rows


def _secrets(bundle: Bundle, shown: Callable[[Any], Any]) -> list[Row]:
    secrets, why = _get(bundle, "secrets")
    if secrets is None:
        return [Row("secrets", "secrets", None, None, "missing", note=why)] if why != "no secrets facts" else []
    present = secrets.get("present") or {}
    empty = set(secrets.get("empty") or ())
    rows = []
    for name in secrets.get("required") or ():
        if name in present:
            rows.append(Row("secrets", name, "required", f"present ({_source(present[name].get('source'), shown)})", "equal"))
        elif name in empty:
            rows.append(Row("secrets", name, "required", "empty", "drifted", note="found, but empty"))
        else:
            rows.append(Row("secrets", name, "required", None, "missing", note="in no source"))
    return rows


def _source(source: Any, shown: Callable[[Any], Any]) -> Any:
    """A secret's source label with its path shown from here: ``dir:secrets`` → ``dir:deploy/secrets``."""
    kind, sep, path = str(source).partition(":")
    return f"{kind}:{shown(path)}" if sep and kind in ("dir", "dotenv") else source


def _prompts(bundle: Bundle, shown: Callable[[Any], Any]) -> list[Row]:
    prompts, why = _get(bundle, "prompts")
    if prompts is None:
        return [Row("prompt variables", "prompts", None, None, "missing", note=why)] if why != "no prompts facts" else []
    declared = list(prompts.get("declared") or ())
    undeclared = {u.get("name") for u in prompts.get("undeclared") or () if isinstance(u, dict)}
    used: dict[str, list[str]] = {}
    for file in prompts.get("files") or ():
        for placeholder in file.get("placeholders") or ():
            where = f"{shown(file.get('path'))}:{placeholder.get('line')}"
            used.setdefault(placeholder.get("name"), []).append(where)
    rows = []
    for name in sorted(set(declared) | set(used)):
        places = used.get(name, [])
        shown = ("used" if len(places) == 1 else f"used ×{len(places)}") if places else None
        where = f"{places[0]}" + (f" (+{len(places) - 1})" if len(places) > 1 else "") if places else ""
        if name in declared:
            rows.append(Row("prompt variables", name, "declared", shown, "equal" if places else "missing", note=where or "declared, never used"))
        else:
            reason = "no default, not declared" if name in undeclared else "inline default or template variable"
            rows.append(Row("prompt variables", name, None, shown, "extra", note=f"{where}: {reason}"))
    return rows
