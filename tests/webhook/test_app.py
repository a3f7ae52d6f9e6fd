"""The ASGI app in process: the failure mode on internal errors and missed deadlines."""

from __future__ import annotations

import asyncio
import io
import json
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
    sent = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "method": "POST", "headers": [(b"content-length", str(len(body)).encode())]}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


@pytest.mark.parametrize("reviewer,reason", [(Raising(), "internal error: RuntimeError"), (Slow(), "deadline exceeded")])
def test_failure_mode_fail_denies(reviewer, reason):
    log = io.StringIO()
    status, body = call(WebhookApp(reviewer, timeout=0.3, failure_mode="fail", log=log), json.dumps(REVIEW).encode())
    assert status == 200
    assert body["response"] == {"uid": "u-1", "allowed": False, "status": {"code": 403, "message": f"wfgy-rules webhook: {reason}; failure mode fail"}}
    assert json.loads(log.getvalue())["outcome"] == "failure_mode"


def test_failure_mode_ignore_admits_with_a_warning():
    status, body = call(WebhookApp(Raising(), failure_mode="ignore", log=io.StringIO()), json.dumps(REVIEW).encode())
    assert body["response"] == {"uid": "u-1", "allowed": True, "warnings": ["wfgy-rules webhook: internal error: RuntimeError; failure mode ignore"]}


def test_a_bad_review_is_a_400_whatever_the_failure_mode():
    assert call(WebhookApp(Refusing(), failure_mode="ignore", log=io.StringIO()), b"{}")[0] == 400


def test_an_unknown_failure_mode_is_refused():
    with pytest.raises(ValueError):
        WebhookApp(Raising(), failure_mode="open")
