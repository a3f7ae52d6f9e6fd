"""``wfgy-rules serve``: the validating admission webhook (AdmissionReview v1 at /validate).

Loads the config and policies once (invalid input: exit 2 before listening), checks the
cert and key, then serves until SIGTERM. Needs the ``serve`` extra (uvicorn):
``pip install uvicorn`` (the ``[serve]`` extra). See `wfgy_rules.webhook.server` for the behaviour.
"""

from __future__ import annotations

import importlib.util
import ssl

from wfgy_rules.errors import Problem, UsageError


def run(cert: str, key: str, config: str | None, host: str, port: int, timeout: float, failure_mode: str,
        max_body: int, reload_interval: float, max_connections: int) -> int:
    if importlib.util.find_spec("uvicorn") is None:
        raise UsageError("wfgy-rules serve needs uvicorn (the serve extra): pip install uvicorn")
    from wfgy_rules.webhook.review import Reviewer
    from wfgy_rules.webhook.server import FAILURE_MODES, serve
    from wfgy_rules.webhook.tls import server_context

    if failure_mode not in FAILURE_MODES:
        raise UsageError(f"--failure-mode {failure_mode!r} is not one of: {', '.join(FAILURE_MODES)}")
    if not 0 < timeout <= 30:
        raise UsageError("--timeout must be above 0 and at most 30 seconds (the API server's limit)")
    if max_connections < 1:
        raise UsageError("--max-connections must be at least 1")
    try:
        server_context(cert, key)
    except FileNotFoundError as exc:
        raise UsageError(f"{exc.filename}: no such file", [Problem(str(exc.filename), "no such file")]) from None
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"{cert}, {key}: not a usable certificate and key ({type(exc).__name__})") from None
    reviewer = Reviewer(config)
    import signal

    # SIGTERM is how a server is stopped: uvicorn finishes the reviews in flight, then re-raises
    # it, so the default action (not the CLI's run-interrupting handler) ends the process.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    serve(reviewer, cert, key, host, port, timeout, failure_mode, max_body, reload_interval, max_connections)
    return 0
