"""TLS for the webhook: a certificate swapped in only once the new pair loads, and every
connection bounded from the moment it is accepted.

**Certificates.** `CertReloader` checks the cert and key files every ``interval`` seconds
and, when either changed (cert-manager renewing the Secret), loads the pair into a *fresh*
`ssl.SSLContext`; only a pair that loads (both parse, the key matches the certificate)
replaces the context new connections get. A half-done rotation (the certificate renewed
before the key) or a mismatched pair is logged once, and the current certificate is served
on — connections already open are never touched; the files are read again at the next
change, so the pair loads as soon as it is whole.

**Connections.** `guarded_protocol` is uvicorn's h11 protocol taking the connection from
the TCP accept, before TLS:

* it counts against ``max_connections`` from accept, its TLS handshake included; a
  connection past the limit is closed at once;
* the TLS handshake and the whole request head (request line and headers) must arrive
  within ``seconds`` of connecting, and the head of each next request on a kept-alive
  connection within ``seconds`` of its first byte: a client that never starts the
  handshake, or trickles it or its headers, is disconnected and its slot freed.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
from typing import TextIO


def server_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A TLS server context (TLS 1.2 or later) holding this pair; `OSError` or
    `ssl.SSLError` when the files are missing, unreadable or do not match."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


class CertReloader:
    """The context new connections get: the last cert and key pair that loaded whole."""

    def __init__(self, certfile: str, keyfile: str, interval: float = 10.0, log: TextIO | None = None):
        self.certfile, self.keyfile, self.interval = certfile, keyfile, interval
        self.log = log or sys.stderr
        self.stamp = self._stamp()
        self.context = server_context(certfile, keyfile)
        self.reloads = 0
        self._refused: tuple | None = None  # the files' stamp when they last failed to load

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
        """Swap in the pair when the files changed and load; otherwise keep the current one."""
        stamp = self._stamp()
        if stamp == self.stamp or stamp == self._refused or None in stamp:
            return False
        try:
            fresh = server_context(self.certfile, self.keyfile)
        except (OSError, ssl.SSLError) as exc:
            self._refused = stamp
            self._write({"msg": "TLS reload failed; keeping the current certificate", "error": type(exc).__name__})
            return False
        self.context, self.stamp, self._refused = fresh, stamp, None
        self.reloads += 1
        self._write({"msg": "TLS certificate reloaded", "cert": self.certfile})
        return True

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.check()

    def _write(self, record: dict) -> None:
        try:
            self.log.write(json.dumps(record) + "\n")
            self.log.flush()
        except (OSError, ValueError):
            pass


def guarded_protocol(reloader: CertReloader, seconds: float, max_connections: int) -> type:
    """uvicorn's h11 protocol, taking each connection from the TCP accept: counted, TLS
    started with the reloader's current context, handshake and head within ``seconds``."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    connections: set[Guarded] = set()  # from accept until closed, handshakes included

    class Guarded(H11Protocol):
        _raw: asyncio.Transport | None = None
        _head_timer: asyncio.TimerHandle | None = None
        _established = False  # TLS is up and uvicorn has the connection
        _gone = False
        _handshake: asyncio.Task | None = None  # held: the loop keeps only weak references to tasks
        _early: list[bytes]  # what the client sent as the handshake ended, before uvicorn had the connection

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if len(connections) >= max_connections:
                self._gone = True
                transport.abort()
                return
            connections.add(self)
            self._raw, self._early = transport, []
            self._arm()
            # start_tls pauses the transport (cancelling a read already queued) before any
            # byte is read: this task runs before the loop's next reads are handled. No pause
            # here: on Python 3.10 it would leave that queued read in place.
            self._handshake = self.loop.create_task(self._start_tls(transport))

        async def _start_tls(self, raw: asyncio.Transport) -> None:
            try:
                secure = await self.loop.start_tls(raw, self, reloader.context, server_side=True,
                                                   ssl_handshake_timeout=seconds)
            except asyncio.CancelledError:
                raw.abort()
                self._forget()
                raise
            except (OSError, ssl.SSLError, asyncio.TimeoutError):  # a failed, aborted or timed-out handshake
                secure = None
            if secure is None or self._gone:  # closed during the handshake
                raw.abort()
                self._forget()
                return
            self._established = True
            super().connection_made(secure)
            early, self._early = self._early, []
            for data in early:
                self.data_received(data)

        def data_received(self, data: bytes) -> None:
            if not self._established:
                self._early.append(data)
                return
            if self._head_timer is None and self.conn.their_state is h11.IDLE:
                self._arm()  # the first bytes of the next request on a kept-alive connection
            super().data_received(data)
            if self._head_timer is not None and self.conn.their_state is not h11.IDLE:
                self._head_timer.cancel()
                self._head_timer = None

        def connection_lost(self, exc: Exception | None) -> None:
            self._gone = True
            self._forget()
            if self._established:
                super().connection_lost(exc)

        def _forget(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            connections.discard(self)

        def _arm(self) -> None:
            self._head_timer = self.loop.call_later(seconds, self._too_slow)

        def _too_slow(self) -> None:
            self._head_timer = None
            if not self._established:
                if self._raw is not None:
                    self._raw.abort()  # still in the handshake: start_tls ends, the slot is freed
            elif self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return Guarded
