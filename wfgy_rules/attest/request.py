"""``--attest FILE [--subject NAME@sha256:HEX]… [--sign-key PEM]`` on ``eval`` and
``preflight``: checked before anything runs (a bad key or subject is exit 2 up front), fed
the bundle as it is gathered, written atomically after the report."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfgy_rules.attest.statement import build_statement, default_subjects, parse_subject
from wfgy_rules.documents.atomic_write import write_atomic
from wfgy_rules.errors import UsageError
from wfgy_rules.model import Bundle


@dataclass
class AttestOptions:
    """As the CLI parsed them."""

    path: str | None = None
    subjects: list[str] = field(default_factory=list)
    sign_key: str | None = None


class Attestation:
    def __init__(self, options: AttestOptions):
        if options.path is None:
            if options.subjects or options.sign_key:
                raise UsageError("--subject and --sign-key go with --attest FILE")
        self.path = options.path
        self.subjects = []
        for text in options.subjects:
            subject = parse_subject(text)
            if subject is None:
                raise UsageError(f"--subject {text!r}: expected NAME@sha256:HEX (64 lowercase hex digits), e.g. registry.example/app@sha256:…")
            self.subjects.append(subject)
        self.key: Any = None
        if options.sign_key:
            from wfgy_rules.attest.keys import load_private_key

            self.key = load_private_key(options.sign_key)
        self.first: Bundle | None = None

    def watch(self, bundles: Iterable[Bundle]) -> Iterator[Bundle]:
        """The bundles, unchanged; the first is kept for the default subjects of gathered facts."""
        for bundle in bundles:
            if self.first is None:
                self.first = bundle
            yield bundle

    def write(self, report: Any, options: Any, config: Any) -> None:
        """Write the statement of ``report``; ``options``: the run's `wfgy_rules.run.session.RunOptions`
        (its ``--facts``, ``--only`` and ``--skip``), ``config``: its `Config`."""
        read = Path(options.facts) if options.facts else None
        subjects = self.subjects or default_subjects(None if read or self.first is None else self.first.facts,
                                                     None if read else _model_card_file(config), read, report.facts_digest)
        statement = build_statement(report, subjects, options.only, options.skip)
        payload = (json.dumps(statement, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        if self.key is None:
            write_atomic(Path(self.path), payload.decode())
            return
        from wfgy_rules.attest.dsse import seal

        write_atomic(Path(self.path), json.dumps(seal(payload, self.key), indent=2) + "\n")


def _model_card_file(config: Any) -> Path:
    """The model card the facts were gathered from."""
    settings = config.providers.get("model_card") or {}
    return config.base_dir / settings.get("path", "model-card.json")
