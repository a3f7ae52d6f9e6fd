"""``wfgy-rules facts``: gather the fact bundle and print it as JSON.

The bundle holds only what providers report, and no provider reports a secret value.
Providers that failed are listed under ``_errors``. Only what the selected rules read is
gathered: ``--stage ci`` the ``ci`` and ``any`` rules (no NVML, secrets or env on a CI
runner), ``--only``/``--skip`` rule-id globs as ``eval`` takes them. Write it with
``--output`` and judge it anywhere with ``wfgy-rules eval --facts FILE`` (or a directory of
bundles: the fleet audit).

Judging the image in CI: the installed packages, torch build and compiled CUDA are the
image's (``deploy``-stage rules), so gather them inside it and judge the bundle on the runner::

    docker run --rm --entrypoint wfgy-rules "$IMAGE" facts --config /app/wfgy.yaml \
        --stage deploy --only 'semvers.*' > facts.json
    wfgy-rules eval --facts facts.json --only 'semvers.*'
"""

from __future__ import annotations

import sys
from pathlib import Path

from wfgy_rules.documents.atomic_write import write_atomic
from wfgy_rules.errors import UsageError
from wfgy_rules.providers import registry
from wfgy_rules.run.session import gather_now, open_session


def run(config: str | None, providers: list[str], output: str | None, policies: list[str], stage: str = "all",
        only: list[str] | None = None, skip: list[str] | None = None, command: list[str] | None = None) -> int:
    """Gather and write the bundle; ``command`` is a launch the ``serving`` provider reads as
    ``preflight -- CMD`` would hand it (nothing is started)."""
    session = open_session(config, policies, only=only, skip=skip, stage=stage)
    if providers:
        unknown = sorted(set(providers) - registry.names())
        if unknown:
            raise UsageError(f"unknown provider(s) {', '.join(unknown)}; installed: {', '.join(sorted(registry.names()))}")
        names = providers
    else:
        names = session.providers
    bundle = gather_now(session, names, command)
    text = bundle.to_text()
    if output:
        write_atomic(Path(output), text)
    else:
        sys.stdout.write(text)
    return 0
