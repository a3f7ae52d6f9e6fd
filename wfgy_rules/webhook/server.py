"""The validating admission webhook over HTTPS: a small ASGI app served by uvicorn.

Routes: ``POST /validate`` (an AdmissionReview v1), ``GET /healthz`` (the process answers),
``GET /readyz`` (200 while serving, 503 once shutting down). Everything else is 404/405.

Each review runs under a deadline (``timeout``, below the webhook's ``timeoutSeconds``):
reading the body, waiting for a judge and judging together. A body over ``max_body`` bytes
is refused (413) before it is read in full. Bodies over ``SMALL_BODY`` bytes (a review is
usually a few KiB) share ``BODIES_HELD`` × ``max_body`` bytes: each reserves its whole
length (``max_body`` when it comes chunked) before it is read, in arrival order, and one
that cannot within its deadline gets 503 — a flood of large bodies costs bounded memory and
never holds up the small ones. A body that is not an AdmissionReview, not JSON, nested too
deep or holding too many values gets 400 (`wfgy_rules.webhook.bounds`); a client too slow
to send its body gets 408. Judging happens in forked judge processes (`wfgy_rules.webhook.judges`): past the
deadline the judge is killed, so nothing judges on after the answer. When judging raises or
runs past the deadline, the answer follows ``failure_mode``: ``fail`` denies, ``ignore``
admits with a warning, matching the ValidatingWebhookConfiguration's ``failurePolicy``.
``dryRun`` requests are judged like any other (the webhook has no side effects) and logged
with ``dry_run: true``.

One JSON line per review goes to the log stream: time, uid, kind, namespace, name, operation,
dry_run, allowed, denied_by (rule ids), warnings (a count), outcome, duration_ms. No message
and no value from the object.

TLS and connections (`wfgy_rules.webhook.tls`): the cert and key are checked every
``reload_interval`` seconds and a renewed pair is served to new connections once it loads
whole; a connection counts against ``max_connections`` from its TCP accept, and one without
a finished TLS handshake and a whole request head ``timeout`` seconds after connecting is
closed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TextIO

from wfgy_rules.webhook.judges import DEFAULT_JUDGES, Broken, Judges, Overrun
from wfgy_rules.webhook.review import Reviewer, answer
from wfgy_rules.webhook.tls import CertReloader, guarded_protocol

DEFAULT_TIMEOUT = 8.0  # seconds; kube-apiserver waits timeoutSeconds (default 10) per webhook
DEFAULT_MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's own request size limit
DEFAULT_MAX_CONNECTIONS = 256
BODIES_HELD = 4  # large bodies of max_body bytes held at once, all reviews together
SMALL_BODY = 64 * 1024  # bodies up to this size need no share of that budget
FAILURE_MODES = ("fail", "ignore")


class WebhookApp:
    """The ASGI application (``uvicorn.run(WebhookApp(...))``); its lifespan starts and stops
    the judges and the certificate watch."""

    def __init__(self, reviewer: Reviewer, timeout: float = DEFAULT_TIMEOUT, failure_mode: str = "fail",
                 max_body: int = DEFAULT_MAX_BODY, log: TextIO | None = None, tls: CertReloader | None = None,
                 judges: int = DEFAULT_JUDGES):
        if failure_mode not in FAILURE_MODES:
            raise ValueError(f"failure mode {failure_mode!r} is not one of {FAILURE_MODES}")
        self.timeout, self.failure_mode, self.max_body = timeout, failure_mode, max_body
        self.log = log or sys.stderr
        self.tls = tls
        self.ready = False
        self.judges = Judges(reviewer, judges)
        self.bodies = _Budget(BODIES_HELD * max_body)
        self._reload_task: asyncio.Task | None = None

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.judges.start()
                if self.tls is not None:
                    self._reload_task = asyncio.create_task(self.tls.watch())
                self.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                if self._reload_task is not None:
                    self._reload_task.cancel()
                self.judges.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        path, method = scope.get("path", ""), scope.get("method", "")
        if path == "/healthz":
            await _send(send, 200, {"status": "ok"})
        elif path == "/readyz":
            await _send(send, 200 if self.ready else 503, {"status": "ready" if self.ready else "shutting down"})
        elif path != "/validate":
            await _send(send, 404, {"error": "not found; POST AdmissionReviews to /validate"})
        elif method != "POST":
            await _send(send, 405, {"error": "POST an AdmissionReview"})
        else:
            await self._validate(scope, receive, send)

    async def _validate(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        started = time.monotonic()
        deadline = started + self.timeout
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            self._log({"outcome": "refused", "reason": "body too large", "status": 413}, started)
            await _send(send, 413, {"error": f"body over {self.max_body} bytes"})
            return
        share = self.max_body if length is None else int(length)  # chunked: as large as allowed
        share = 0 if share <= SMALL_BODY else share
        if share:
            try:
                await asyncio.wait_for(self.bodies.take(share), timeout=max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                self._log({"outcome": "refused", "reason": "too many large bodies at once", "status": 503}, started)
                await _send(send, 503, {"error": "too many large review bodies at once; try again"})
                return
        try:
            await self._judged(receive, send, started, deadline)
        finally:
            self.bodies.give(share)

    async def _judged(self, receive: Callable, send: Callable, started: float, deadline: float) -> None:
        try:
            body = await asyncio.wait_for(self._body(receive), timeout=max(0.0, deadline - time.monotonic()))
        except _TooLarge:
            self._log({"outcome": "refused", "reason": "body too large", "status": 413}, started)
            await _send(send, 413, {"error": f"body over {self.max_body} bytes"})
            return
        except asyncio.TimeoutError:
            self._log({"outcome": "refused", "reason": "body not received before the deadline", "status": 408}, started)
            await _send(send, 408, {"error": "request body not received in time"})
            return
        except _Disconnected:
            return
        try:
            frame = await self.judges.judge(body, deadline)
        except Overrun as exc:
            await self._fall_back(send, exc.uid, "deadline exceeded", started)
            return
        except Broken as exc:
            await self._fall_back(send, exc.uid, "internal error: the judge process ended", started)
            return
        if frame["kind"] == "bad":
            self._log({"outcome": "refused", "reason": frame["reason"], "status": 400}, started)
            await _send(send, 400, {"error": frame["reason"]})
        elif frame["kind"] == "error":  # judging must never take the server down; the failure mode decides
            await self._fall_back(send, frame["uid"], f"internal error: {frame['error']}", started)
        else:
            response = frame["verdict"]
            self._log({**frame["record"], "outcome": "allowed" if response["response"]["allowed"] else "denied"}, started)
            await _send(send, 200, response)

    async def _fall_back(self, send: Callable, uid: str, reason: str, started: float) -> None:
        allowed = self.failure_mode == "ignore"
        text = f"wfgy-rules webhook: {reason}; failure mode {self.failure_mode}"
        response = answer(uid, allowed, None if allowed else text, [text] if allowed else None)
        self._log({"uid": uid, "allowed": allowed, "outcome": "failure_mode", "reason": reason}, started)
        await _send(send, 200, response)

    async def _body(self, receive: Callable) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _log(self, record: dict[str, Any], started: float) -> None:
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "msg": "admission review", **record,
                "duration_ms": round((time.monotonic() - started) * 1000, 2)}
        line.pop("resource", None)
        try:
            self.log.write(json.dumps(line, sort_keys=True) + "\n")
            self.log.flush()
        except (OSError, ValueError):
            pass


class _Budget:
    """Bytes that large bodies may take together; a share is granted whole, in arrival order
    (no two readers each holding part of what both need)."""

    def __init__(self, size: int):
        self.free = size
        self._waiting: deque[tuple[int, asyncio.Future]] = deque()

    async def take(self, size: int) -> None:
        if not self._waiting and size <= self.free:
            self.free -= size
            return
        entry = (size, asyncio.get_running_loop().create_future())
        self._waiting.append(entry)
        try:
            await entry[1]
        except BaseException:  # the deadline passed while waiting
            if entry[1].done() and not entry[1].cancelled():
                self.give(size)  # granted just as it was given up
            else:
                with suppress(ValueError):  # unless a grant already dropped it
                    self._waiting.remove(entry)
                self._grant()
            raise

    def give(self, size: int) -> None:
        self.free += size
        self._grant()

    def _grant(self) -> None:
        while self._waiting:
            size, granted = self._waiting[0]
            if granted.done():  # given up (its wait cancelled) before it could leave the line
                self._waiting.popleft()
            elif size <= self.free:
                self._waiting.popleft()
                self.free -= size
                granted.set_result(None)
            else:
                return


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


async def _send(send: Callable, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def serve(reviewer: Reviewer, certfile: str, keyfile: str, host: str, port: int, timeout: float = DEFAULT_TIMEOUT,
          failure_mode: str = "fail", max_body: int = DEFAULT_MAX_BODY, reload_interval: float = 10.0,
          max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
    """Serve until SIGTERM/SIGINT (uvicorn handles both, finishing the reviews in flight)."""
    import uvicorn

    tls = CertReloader(certfile, keyfile, reload_interval)
    app = WebhookApp(reviewer, timeout, failure_mode, max_body, tls=tls)
    # TLS is the protocol's (from the TCP accept, so handshakes count and have a deadline),
    # not uvicorn's; the asyncio loop, whose start_tls the protocol relies on.
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", loop="asyncio",
                            http=guarded_protocol(tls, timeout, max_connections),
                            access_log=False, log_level="warning", limit_concurrency=max_connections,
                            timeout_keep_alive=5, timeout_graceful_shutdown=max(1, int(timeout) + 1),
                            server_header=False, date_header=False, proxy_headers=False)
    uvicorn.Server(config).run()
