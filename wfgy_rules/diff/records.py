"""Per-file records in the diff: a fingerprint that drifted says which file changed.

The card's ``files`` (written by ``wfgy-rules lock``) and the model directory's ``per_file``
facts hold, file by file, what each fingerprint was made of
(`wfgy_rules.providers.model.file_records`). The diff compares them as the SemVers Diff rules
do (`wfgy_rules.policy.record_changes`), so ``diff``, ``diff --facts OLD --facts NEW`` and a
failing ``semvers.*-sha`` rule name the same change::

    ≠ drifted  tokenizer_sha ↔ runtime.model_dir.tokenizer.sha256  34ae92b5ccea  a9be45b6f511
               tokenizer_config.json: add_eos_token false → true

=================  ==============================================  ===================
card               effective records                               shown on
=================  ==============================================  ===================
files.tokenizer    runtime.model_dir.tokenizer.per_file            the tokenizer_sha row
files.chat_        runtime.model_dir.tokenizer.chat_template       the chat_template_sha
template           .per_file                                       row
files.checkpoint   runtime.model_dir.checkpoint.per_file           the checkpoint_sha row
files.config       runtime.model_dir.config.per_file               its row in ``model files``
files.generation_  runtime.model_dir.generation_config.per_file    its row in ``model files``
config
=================  ==============================================  ===================

A card without ``files`` (locked by an older release) shows a drifted fingerprint as
``another fingerprint``, with the hint to re-lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wfgy_rules.diff import Row
from wfgy_rules.policy.record_changes import record_changes

# card fingerprint key -> (its files group, the effective records)
FINGERPRINTS = {
    "tokenizer_sha": ("tokenizer", "runtime.model_dir.tokenizer.per_file"),
    "chat_template_sha": ("chat_template", "runtime.model_dir.tokenizer.chat_template.per_file"),
    "checkpoint_sha": ("checkpoint", "runtime.model_dir.checkpoint.per_file"),
}
# files groups no fingerprint stands for: compared in rows of their own
SETTINGS = {
    "config": "runtime.model_dir.config.per_file",
    "generation_config": "runtime.model_dir.generation_config.per_file",
}
RECORDS_KEY = "per_file"
SECTION = "model files"
RELOCK = "another fingerprint; the card records no file digests: re-run `wfgy-rules lock` to name the file that changes"


def fingerprint_note(key: str, card_files: Any, effective: Callable[[str], Any]) -> str:
    """The note of a drifted fingerprint row: what changed, file by file."""
    group, path = FINGERPRINTS[key]
    locked = card_files.get(group) if isinstance(card_files, dict) else None
    if not isinstance(locked, dict):
        return RELOCK
    return changes_note(locked, effective(path)) or "another fingerprint"


def settings_rows(card_files: Any, effective: Callable[[str], Any]) -> list[Row]:
    """Section `SECTION`: a row per file of each `SETTINGS` group the card records, ``recorded``
    against ``same`` or ``changed`` (with what changed as its note), ``missing`` when gone."""
    rows = []
    for group, path in SETTINGS.items():
        locked = card_files.get(group) if isinstance(card_files, dict) else None
        found = effective(path)
        found = found if isinstance(found, dict) else {}
        for name in sorted(locked) if isinstance(locked, dict) else ():
            if name not in found:
                rows.append(Row(SECTION, name, "recorded", None, "missing", note=f"not in the model directory ({path})"))
                continue
            note = changes_note({name: locked[name]}, {name: found[name]})
            rows.append(Row(SECTION, name, "recorded", "changed" if note else "same", "drifted" if note else "equal", note=note))
    return rows


def changes_note(locked: Any, found: Any) -> str:
    return "; ".join(record_changes(locked, found if isinstance(found, dict) else {}))


def names(records: Any) -> str | None:
    """The files of a records object, as a cell shows them."""
    return ", ".join(sorted(records)) if isinstance(records, dict) else None
