"""The validating admission webhook over HTTPS: a small ASGI app served by uvicorn.

Routes: ``POST /validate`` (an AdmissionReview v1), ``GET /healthz`` (the process answers),
``GET /readyz`` (200 while serving, 503 once shutting down). Everything else is 404/405.

Each review runs under a deadline (``timeout``, below the webhook's ``timeoutSeconds``):
reading the body and judging it together. A body over ``max_body`` bytes is refused (413)
before it is read in full; a body that is not an AdmissionReview gets 400; a client too slow
to send its body gets 408, and one that has not sent a whole request head (the request line
and headers) ``timeout`` seconds after connecting, or after starting its next request on a
kept-alive connection, is disconnected: an idle or trickling client cannot hold one of the
``max_connections`` slots. When judging raises or runs past the deadline, the answer follows
``failure_mode``: ``fail`` denies, ``ignore`` admits with a warning, matching the
ValidatingWebhookConfiguration's ``failurePolicy``. ``dryRun`` requests are judged like any
other (the webhook has no side effects) and logged with ``dry_run: true``.

One JSON line per review goes to the log stream: time, uid, kind, namespace, name, operation,
dry_run, allowed, denied_by (rule ids), warnings (a count), outcome, duration_ms. No message
and no value from the object.

TLS comes from the mounted cert and key files; they are checked every ``reload_interval``
seconds and, when changed (cert-manager renewing a Secret), loaded into the live
``SSLContext``: new connections get the new certificate without a restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from wfgy_rules.webhook.review import BadReview, Reviewer, answer

DEFAULT_TIMEOUT = 8.0  # seconds; kube-apiserver waits timeoutSeconds (default 10) per webhook
DEFAULT_MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's own request size limit
FAILURE_MODES = ("fail", "ignore")


class WebhookApp:
    """The ASGI application (``uvicorn.run(WebhookApp(...))``)."""

    def __init__(self, reviewer: Reviewer, timeout: float = DEFAULT_TIMEOUT, failure_mode: str = "fail",
                 max_body: int = DEFAULT_MAX_BODY, log: TextIO | None = None, tls: CertReloader | None = None,
                 workers: int = 8):
        if failure_mode not in FAILURE_MODES:
            raise ValueError(f"failure mode {failure_mode!r} is not one of {FAILURE_MODES}")
        self.reviewer, self.timeout, self.failure_mode, self.max_body = reviewer, timeout, failure_mode, max_body
        self.log = log or sys.stderr
        self.tls = tls
        self.ready = False
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="review")
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
                if self.tls is not None:
                    self._reload_task = asyncio.create_task(self.tls.watch())
                self.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                if self._reload_task is not None:
                    self._reload_task.cancel()
                self.pool.shutdown(wait=False, cancel_futures=True)
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
            review = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            self._log({"outcome": "refused", "reason": "body is not JSON", "status": 400}, started)
            await _send(send, 400, {"error": "body is not JSON"})
            return
        uid = _uid(review)
        loop = asyncio.get_running_loop()
        try:
            verdict = await asyncio.wait_for(loop.run_in_executor(self.pool, self.reviewer.review, review),
                                             timeout=max(0.0, deadline - time.monotonic()))
        except BadReview as exc:
            self._log({"outcome": "refused", "reason": str(exc), "status": 400}, started)
            await _send(send, 400, {"error": str(exc)})
            return
        except asyncio.TimeoutError:
            await self._fall_back(send, uid, "deadline exceeded", started)
            return
        except Exception as exc:  # judging must never take the server down; the failure mode decides
            await self._fall_back(send, uid, f"internal error: {type(exc).__name__}", started)
            return
        self._log({**verdict.record, "outcome": "allowed" if verdict.response["response"]["allowed"] else "denied"}, started)
        await _send(send, 200, verdict.response)

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


class CertReloader:
    """Loads the cert and key again into the live ``SSLContext`` when either file changes."""

    def __init__(self, context: ssl.SSLContext, certfile: str, keyfile: str, interval: float = 10.0, log: TextIO | None = None):
        self.context, self.certfile, self.keyfile, self.interval = context, certfile, keyfile, interval
        self.log = log or sys.stderr
        self.stamp = self._stamp()
        self.reloads = 0

    def _stamp(self) -> tuple:
        stamps = []
        for path in (self.certfile, self.keyfile):
            try:
                st = os.stat(path)  # follows the ..data symlink a Secret volume swaps
                stamps.append((st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    def check(self) -> bool:
        """Reload when the files changed; a half-written or mismatched pair keeps the old one."""
        stamp = self._stamp()
        if stamp == self.stamp or None in stamp:
            return False
        try:
            self.context.load_cert_chain(self.certfile, self.keyfile)
        except (OSError, ssl.SSLError) as exc:
            self.log.write(json.dumps({"msg": "TLS reload failed; keeping the current certificate", "error": type(exc).__name__}) + "\n")
            return False
        self.stamp = stamp
        self.reloads += 1
        self.log.write(json.dumps({"msg": "TLS certificate reloaded", "cert": self.certfile}) + "\n")
        return True

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.check()


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


def _uid(review: Any) -> str:
    request = review.get("request") if isinstance(review, dict) else None
    uid = request.get("uid") if isinstance(request, dict) else None
    return uid if isinstance(uid, str) else ""


async def _send(send: Callable, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def serve(reviewer: Reviewer, certfile: str, keyfile: str, host: str, port: int, timeout: float = DEFAULT_TIMEOUT,
          failure_mode: str = "fail", max_body: int = DEFAULT_MAX_BODY, reload_interval: float = 10.0,
          max_connections: int = 256) -> None:
    """Serve until SIGTERM/SIGINT (uvicorn handles both, finishing the reviews in flight)."""
    import uvicorn

    app = WebhookApp(reviewer, timeout, failure_mode, max_body)
    config = uvicorn.Config(app, host=host, port=port, ssl_certfile=certfile, ssl_keyfile=keyfile, lifespan="on",
                            http=_head_deadline_protocol(timeout),
                            access_log=False, log_level="warning", limit_concurrency=max_connections,
                            timeout_keep_alive=5, timeout_graceful_shutdown=max(1, int(timeout) + 1),
                            server_header=False, date_header=False, proxy_headers=False)
    config.load()
    app.tls = CertReloader(config.ssl, certfile, keyfile, reload_interval)
    uvicorn.Server(config).run()


def _head_deadline_protocol(seconds: float) -> type:
    """uvicorn's h11 protocol, disconnecting a client whose request head is not complete
    ``seconds`` after the connection opens or its next request begins (uvicorn bounds the
    body through the app and the idle time between requests, not the head)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadDeadline(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._head_timer is None and self.conn.their_state is h11.IDLE:
                self._arm()  # the first bytes of the next request on a kept-alive connection
            super().data_received(data)
            if self._head_timer is not None and self.conn.their_state is not h11.IDLE:
                self._head_timer.cancel()
                self._head_timer = None

        def connection_lost(self, exc: Exception | None) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._head_timer = self.loop.call_later(seconds, self._too_slow)

        def _too_slow(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return HeadDeadline
