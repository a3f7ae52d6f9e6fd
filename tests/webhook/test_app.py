"""The ASGI app in process (its judges forked from the test): the failure mode on internal
errors and missed deadlines, and a judge past its deadline is stopped."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import time

import pytest

from wfgy_rules.webhook.review import BadReview
from wfgy_rules.webhook.server import WebhookApp

REVIEW = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u-1", "object": {"kind": "Pod"}}}


class Raising:
    def review(self, body):
        raise RuntimeError("boom")


class Slow:
    def review(self, body):
        time.sleep(1.0)
        raise AssertionError("answered after the deadline")


class Refusing:
    def review(self, body):
        raise BadReview("not an AdmissionReview")


def call(app: WebhookApp, body: bytes, path: str = "/validate") -> tuple[int, dict]:
    """One request between the app's lifespan startup and shutdown."""
    sent = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "method": "POST", "headers": [(b"content-length", str(len(body)).encode())]}
    asyncio.run(_within_lifespan(app, app(scope, receive, send)))
    return sent[0]["status"], json.loads(sent[1]["body"])


async def _within_lifespan(app: WebhookApp, request) -> None:
    events = asyncio.Queue()
    await events.put({"type": "lifespan.startup"})
    done = []

    async def send(message):
        done.append(message["type"])

    lifespan = asyncio.create_task(app({"type": "lifespan"}, events.get, send))
    while "lifespan.startup.complete" not in done:
        await asyncio.sleep(0.01)
    try:
        await request
    finally:
        await events.put({"type": "lifespan.shutdown"})
        await lifespan


@pytest.mark.parametrize("reviewer,reason", [(Raising(), "internal error: RuntimeError"), (Slow(), "deadline exceeded")])
def test_failure_mode_fail_denies(reviewer, reason):
    log = io.StringIO()
    status, body = call(WebhookApp(reviewer, timeout=0.3, failure_mode="fail", log=log), json.dumps(REVIEW).encode())
    assert status == 200
    assert body["response"] == {"uid": "u-1", "allowed": False, "status": {"code": 403, "message": f"wfgy-rules webhook: {reason}; failure mode fail"}}
    assert json.loads(log.getvalue())["outcome"] == "failure_mode"


def test_a_judge_past_the_deadline_is_killed_and_replaced():
    app = WebhookApp(Slow(), timeout=0.3, log=io.StringIO(), judges=1)
    pids = []

    async def twice():
        await app.judges.start()
        try:
            for _ in range(2):
                pids.append(app.judges.pids())
                started = time.monotonic()
                status, message = await _post(app, json.dumps(REVIEW).encode())
                assert (status, message) == (200, "wfgy-rules webhook: deadline exceeded; failure mode fail")
                assert time.monotonic() - started < 0.9  # answered at the deadline, not after the judge's second
        finally:
            app.judges.stop()

    asyncio.run(twice())
    (first,), (second,) = pids
    assert first != second  # the judge that overran was replaced
    for pid in (first, second):
        assert not _alive(pid)  # killed and reaped: nothing judges on after the answer


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_failure_mode_ignore_admits_with_a_warning():
    status, body = call(WebhookApp(Raising(), failure_mode="ignore", log=io.StringIO()), json.dumps(REVIEW).encode())
    assert body["response"] == {"uid": "u-1", "allowed": True, "warnings": ["wfgy-rules webhook: internal error: RuntimeError; failure mode ignore"]}


def test_a_bad_review_is_a_400_whatever_the_failure_mode():
    assert call(WebhookApp(Refusing(), failure_mode="ignore", log=io.StringIO()), b"{}")[0] == 400


def test_an_unknown_failure_mode_is_refused():
    with pytest.raises(ValueError):
        WebhookApp(Raising(), failure_mode="open")


def test_large_bodies_share_a_budget_and_small_ones_never_wait_for_it():
    """Four large bodies held (their clients never finish sending) take the whole budget: a
    fifth large one gets 503 at its deadline, a small review is judged at once."""
    app = WebhookApp(Refusing(), timeout=1.5, max_body=100_000, log=io.StringIO(), judges=1)
    answers: dict[str, tuple[int, float]] = {}

    async def request(name: str, length: int, finished: bool) -> None:
        sent = []
        first = [{"type": "http.request", "body": b"{}" if finished else b"{", "more_body": not finished}]

        async def receive():
            if first:
                return first.pop(0)
            await asyncio.Event().wait()  # a client that never sends the rest

        async def send(message):
            sent.append(message)

        started = time.monotonic()
        await app({"type": "http", "path": "/validate", "method": "POST",
                   "headers": [(b"content-length", str(length).encode())]}, receive, send)
        answers[name] = (sent[0]["status"], time.monotonic() - started)

    async def scenario():
        await app.judges.start()
        try:
            holders = [asyncio.create_task(request(f"held-{n}", 90_000, False)) for n in range(4)]
            await asyncio.sleep(0.05)
            app.timeout = 0.5  # the next requests' deadlines pass while the holders keep their shares
            await asyncio.gather(request("fifth", 90_000, True), request("small", 2, True), *holders)
        finally:
            app.judges.stop()

    asyncio.run(scenario())
    assert answers["small"][0] == 400 and answers["small"][1] < 0.3  # read and judged (a 400 from the reviewer)
    assert answers["fifth"][0] == 503 and 0.45 <= answers["fifth"][1] < 1
    assert {answers[f"held-{n}"][0] for n in range(4)} == {408}
    assert app.bodies.free == 4 * 100_000  # every share given back


class SlowForOne:
    """Sleeps past the deadline on the review with uid "slow"; refuses the others (a 400)."""

    def review(self, body):
        if body["request"]["uid"] == "slow":
            time.sleep(1.0)
        raise BadReview("refused")


def test_a_judge_that_could_not_be_forked_is_forked_at_the_next_review(monkeypatch):
    app = WebhookApp(SlowForOne(), timeout=0.3, log=io.StringIO(), judges=1)
    real_fork, forks = os.fork, []

    def fork():
        forks.append(len(forks))
        if len(forks) == 1:  # the replacement of the judge killed at the deadline
            raise OSError(11, "Resource temporarily unavailable")
        return real_fork()

    async def scenario():
        await app.judges.start()
        try:
            monkeypatch.setattr(os, "fork", fork)
            slow = await _post(app, _with_uid("slow"))
            after = app.judges.pids()
            fast = await _post(app, _with_uid("fast"))
            return slow, after, fast
        finally:
            monkeypatch.setattr(os, "fork", real_fork)
            app.judges.stop()

    (slow_status, slow_message), after, (fast_status, _) = asyncio.run(scenario())
    assert (slow_status, slow_message) == (200, "wfgy-rules webhook: deadline exceeded; failure mode fail")
    assert after == []  # the replacement failed: no judge for now
    assert fast_status == 400 and len(forks) == 2  # judged (refused) by a judge forked for it


def test_a_share_given_up_while_waiting_is_never_granted():
    """A reader whose deadline passes while it waits for a share leaves the line: a share
    given back before its cancellation has run goes to the reader behind it."""
    from wfgy_rules.webhook.server import _Budget

    async def scenario():
        budget = _Budget(10)
        await budget.take(10)
        given_up = asyncio.create_task(budget.take(5))
        behind = asyncio.create_task(budget.take(5))
        await asyncio.sleep(0)
        given_up.cancel()  # its wait is cancelled at once, its handler runs later
        budget.give(10)
        with pytest.raises(asyncio.CancelledError):
            await given_up
        await asyncio.wait_for(behind, 1)
        budget.give(5)
        return budget.free

    assert asyncio.run(scenario()) == 10


class Hungry:
    """Allocates ``request.size`` bytes (kept, with ``request.keep``), then refuses (a 400)."""

    kept: list = []

    def review(self, body):
        food = bytearray(body["request"]["size"])
        if body["request"].get("keep"):
            Hungry.kept.append(food)
        raise BadReview("fed")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA and /proc/self/status are Linux's")
def test_a_judge_is_held_to_its_memory_allowance():
    from wfgy_rules.webhook.judges import JUDGE_MEMORY

    app = WebhookApp(Hungry(), timeout=5, log=io.StringIO(), judges=1)
    seen = []

    async def feed(size: int, keep: bool = False) -> None:
        body = json.dumps({**REVIEW, "request": {**REVIEW["request"], "size": size, "keep": keep}}).encode()
        before = app.judges.pids()
        status = await _post(app, body)
        seen.append((status, before != app.judges.pids()))

    async def scenario():
        await app.judges.start()
        try:
            await feed(JUDGE_MEMORY * 3)  # over the allowance: fails in the judge, which is replaced
            await feed(1 << 20)  # a small review in the fresh judge
            await feed(JUDGE_MEMORY * 7 // 8, keep=True)  # judged, but it keeps too much: replaced
            await feed(1 << 20)
        finally:
            app.judges.stop()

    asyncio.run(scenario())
    assert seen == [((200, "wfgy-rules webhook: internal error: MemoryError; failure mode fail"), True),
                    ((400, ""), False), ((400, ""), True), ((400, ""), False)]


def _with_uid(uid: str) -> bytes:
    return json.dumps({**REVIEW, "request": {**REVIEW["request"], "uid": uid}}).encode()


async def _post(app: WebhookApp, body: bytes) -> tuple[int, str]:
    """One review through a running app (its judges started): the status and the answer's
    ``status.message``."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    await app({"type": "http", "path": "/validate", "method": "POST", "headers": []}, receive, send)
    answer = json.loads(sent[1]["body"])
    return sent[0]["status"], answer.get("response", {}).get("status", {}).get("message", "")
