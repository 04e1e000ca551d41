"""A POST whose connection drops (``httpx.ReadError``: a keep-alive connection the server
closed just as it was reused) has an unknown outcome. The run looks in Fortnox at once and
never posts blind: found, it is done; not found, it goes back to the queue and is tried again
later, looking first, a bounded number of times, and only then ends failed saying why. So does
a run a step of which Fortnox did not answer (503 after the client's retries). Against the
sandbox, through a transport that drops POSTs or answers 503."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from remediator.service import create_app
from tests.service.conftest import (
    AUTH,
    Harness,
    TestClient,
    harness_for,
    post_failure,
    wait_for,
)


class Dropping(httpx.AsyncBaseTransport):
    """The sandbox's transport, except that the first ``drops`` POSTs to ``path`` raise
    ``ReadError``: before the sandbox sees them (``delivered=False``: the server never read
    the request) or after it answered (``delivered=True``: the answer was lost)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        drops: int,
        *,
        delivered: bool,
        path: str = "/3/vouchers",
    ) -> None:
        self.inner, self.drops, self.delivered, self.path = inner, drops, delivered, path
        self.dropped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        post = request.method == "POST" and request.url.path == self.path
        if not post or self.dropped >= self.drops:
            return await self.inner.handle_async_request(request)
        self.dropped += 1
        if self.delivered:
            response = await self.inner.handle_async_request(request)
            await response.aread()
        raise httpx.ReadError("the server closed the connection", request=request)


class Unavailable(httpx.AsyncBaseTransport):
    """The sandbox's transport, except that while ``down`` every GET of ``path`` answers 503
    with a gateway's HTML page, as Fortnox does in an outage."""

    def __init__(self, inner: httpx.AsyncBaseTransport, path: str) -> None:
        self.inner, self.path, self.down, self.refused = inner, path, True, 0

    def recover(self) -> None:
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and request.method == "GET" and request.url.path == self.path:
            self.refused += 1
            return httpx.Response(503, html="<html>Service Unavailable</html>", request=request)
        return await self.inner.handle_async_request(request)


def app(harness: Harness, transport: httpx.AsyncBaseTransport, **overrides: object) -> FastAPI:
    settings = harness.settings.model_copy(update={"unavailable_retry_seconds": 0.2} | overrides)
    return create_app(
        settings,
        transport=transport,
        callback_transport=httpx.ASGITransport(app=harness.receiver.app),
    )


def queued_again_then_done(
    client: TestClient, harness: Harness, meanwhile: Callable[[], None] = lambda: None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Post the harness's failure; the run as it waits for its second pass (``meanwhile`` is
    called then), and as it ends."""
    run_id = post_failure(client, harness.failure()).json()["run_id"]
    queued = wait_for(client, run_id, ("queued",))
    while queued["attempts"] == 0:
        queued = client.get(f"/v1/runs/{run_id}", headers=AUTH).json()
    meanwhile()
    return queued, wait_for(client, run_id, ("done",))


def voucher_requests(harness: Harness, path: str = "/3/vouchers") -> list[str]:
    """The sandbox's requests of ``path`` (the vouchers) in order: GET (a look) or POST."""
    return [r["method"] for r in harness.sandbox.requests if r["path"] == path]


def series_requests(harness: Harness) -> list[str]:
    """The sandbox's voucher series requests in order: ``GET F`` (a read or a look) or
    ``POST`` (the create)."""
    return [
        f"{r['method']} {r['path'].removeprefix('/3/voucherseries').strip('/')}".strip()
        for r in harness.sandbox.requests
        if r["path"].startswith("/3/voucherseries")
    ]


def test_a_voucher_post_dropped_before_the_server_read_it_is_tried_again_later(
    tmp_path: Path,
) -> None:
    harness = harness_for("account_inactive", tmp_path)
    dropping = Dropping(harness.sandbox.transport(), drops=1, delivered=False)
    with harness.client(app(harness, dropping)) as client:
        harness.connect(client)
        queued, run = queued_again_then_done(client, harness)
    assert queued["state_reason"].startswith("a write was not confirmed; attempt 1")
    assert (run["outcome"], run["attempts"]) == ("fixed", 1)
    assert dropping.dropped == 1
    assert [v["TransactionDate"] for v in harness.vouchers()] == ["2026-03-02"]
    # The dropped POST never reached the sandbox; each pass looked before its POST.
    assert voucher_requests(harness)[-1] == "POST"
    assert voucher_requests(harness).count("POST") == 1
    assert "GET" in voucher_requests(harness)[:-1]


def test_a_voucher_post_whose_answer_was_lost_is_found_and_not_sent_again(
    tmp_path: Path,
) -> None:
    harness = harness_for("account_inactive", tmp_path)
    dropping = Dropping(harness.sandbox.transport(), drops=1, delivered=True)
    with harness.client(app(harness, dropping)) as client:
        harness.connect(client)
        run = wait_for(client, post_failure(client, harness.failure()).json()["run_id"])
    assert (run["state"], run["outcome"], run["attempts"]) == ("done", "fixed", 0)
    assert [v["TransactionDate"] for v in harness.vouchers()] == ["2026-03-02"]
    assert voucher_requests(harness).count("POST") == 1
    assert voucher_requests(harness)[-1] == "GET"  # the look after the lost answer found it


def test_a_voucher_post_that_keeps_dropping_ends_failed_after_its_attempts(
    tmp_path: Path,
) -> None:
    harness = harness_for("account_inactive", tmp_path)
    dropping = Dropping(harness.sandbox.transport(), drops=100, delivered=False)
    with harness.client(app(harness, dropping, unavailable_retry_attempts=2)) as client:
        harness.connect(client)
        run = wait_for(client, post_failure(client, harness.failure()).json()["run_id"])
    assert (run["state"], run["outcome"], run["attempts"]) == ("done", "failed", 2)
    assert run["state_reason"].startswith("a write was not confirmed after 3 attempts: ReadError")
    assert dropping.dropped == 3  # one POST a pass, each after a look, never blind
    assert harness.vouchers() == []
    (step,) = [s for s in run["report"]["steps"] if s["action"] == "resend_voucher"]
    assert (step["status"], step["unconfirmed"]) == ("failed", True)


def test_a_series_create_whose_answer_was_lost_is_found_by_a_look_and_not_sent_again(
    tmp_path: Path,
) -> None:
    harness = harness_for("series_missing", tmp_path)
    dropping = Dropping(
        harness.sandbox.transport(), drops=1, delivered=True, path="/3/voucherseries"
    )
    with harness.client(app(harness, dropping)) as client:
        harness.connect(client)
        run = wait_for(client, post_failure(client, harness.failure()).json()["run_id"])
    assert (run["state"], run["outcome"], run["attempts"]) == ("done", "fixed", 0)
    assert dropping.dropped == 1
    # The plan read F (missing), the apply created it, the answer was lost: a look found it.
    assert series_requests(harness) == ["GET F", "POST", "GET F"]
    (step,) = [s for s in run["report"]["steps"] if s["action"] == "series_exists"]
    assert (step["status"], step["after"]["exists"], step["unconfirmed"]) == (
        "changed",
        True,
        False,
    )
    assert [v["TransactionDate"] for v in harness.vouchers()] == ["2026-03-02"]


def test_a_series_create_that_never_arrived_is_made_on_the_next_pass(tmp_path: Path) -> None:
    harness = harness_for("series_missing", tmp_path)
    dropping = Dropping(
        harness.sandbox.transport(), drops=1, delivered=False, path="/3/voucherseries"
    )
    with harness.client(app(harness, dropping)) as client:
        harness.connect(client)
        queued, run = queued_again_then_done(client, harness)
    assert queued["state_reason"].startswith("a write was not confirmed; attempt 1")
    assert (run["outcome"], run["attempts"]) == ("fixed", 1)
    # Pass 1: read, create (dropped), look (not there). Pass 2: read, create.
    assert series_requests(harness) == ["GET F", "GET F", "GET F", "POST"]
    assert [v["TransactionDate"] for v in harness.vouchers()] == ["2026-03-02"]


def test_a_step_fortnox_did_not_answer_is_tried_again_on_a_later_pass(tmp_path: Path) -> None:
    harness = harness_for("series_not_manual", tmp_path)
    outage = Unavailable(harness.sandbox.transport(), "/3/voucherseries/F")
    with harness.client(app(harness, outage, unavailable_retry_seconds=0.5)) as client:
        harness.connect(client)
        queued, run = queued_again_then_done(client, harness, outage.recover)
    assert queued["state_reason"].startswith("Fortnox did not answer; attempt 1")
    assert (run["outcome"], run["attempts"]) == ("fixed", 1)
    assert outage.refused >= 1
    assert [v["TransactionDate"] for v in harness.vouchers()] == ["2026-03-02"]


def test_a_step_fortnox_never_answers_ends_failed_after_its_attempts(tmp_path: Path) -> None:
    harness = harness_for("series_not_manual", tmp_path)
    outage = Unavailable(harness.sandbox.transport(), "/3/voucherseries/F")
    with harness.client(app(harness, outage, unavailable_retry_attempts=2)) as client:
        harness.connect(client)
        run = wait_for(client, post_failure(client, harness.failure()).json()["run_id"])
    assert (run["state"], run["outcome"], run["attempts"]) == ("done", "failed", 2)
    assert run["state_reason"].startswith("Fortnox did not answer after 3 attempts: Fortnox 503")
    (step,) = [s for s in run["report"]["steps"] if s["status"] == "failed"]
    assert (step["action"], step["unavailable"], step["unconfirmed"]) == (
        "series_manual",
        True,
        False,
    )
    assert harness.vouchers() == []


def test_a_refresh_answered_without_a_refresh_token_is_tried_again_on_a_later_pass(
    tmp_path: Path,
) -> None:
    harness = harness_for("account_inactive", tmp_path)
    harness.sandbox.set_faults(refresh_without_refresh_token=1)
    with harness.client(app(harness, harness.sandbox.transport())) as client:
        harness.connect(client)
        queued, run = queued_again_then_done(client, harness)
    assert queued["state_reason"].startswith("Fortnox did not answer; attempt 1")
    assert (run["outcome"], run["attempts"]) == ("fixed", 1)
    grants = [r["grant_type"] for r in harness.sandbox.requests if r.get("grant_type")]
    assert grants == ["refresh_token", "refresh_token"]  # the refused answer, then a good one
    assert [v["TransactionDate"] for v in harness.vouchers()] == ["2026-03-02"]
