"""Callbacks: the report POSTed to the failure's callback_url, signed, retried, and the
delivery state visible on the run."""

from __future__ import annotations

from typing import Any

from remediator import signing
from tests.service.conftest import (
    AUTH,
    CALLBACK_SECRET,
    Harness,
    TestClient,
    post_failure,
    wait_for,
    wait_until,
)


def delivered(client: TestClient, run_id: str, state: str) -> dict[str, Any]:
    result: dict[str, Any] = {}

    def check() -> bool:
        result.update(client.get(f"/v1/runs/{run_id}", headers=AUTH).json())
        return bool(result["callback"]["state"] == state)

    wait_until(check)
    return result


def test_the_final_report_is_posted_signed(harness: Harness) -> None:
    with harness.client() as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure(callback=True)).json()["run_id"]
        wait_for(client, run_id)
        run = delivered(client, run_id, "delivered")
    assert run["callback"] == {
        "state": "delivered",
        "attempts": 1,
        "next_attempt_at": None,
        "last_error": None,
    }
    ((headers, body),) = harness.receiver.received
    signing.verify(headers[signing.HEADER.lower()], body, CALLBACK_SECRET)
    sent = harness.receiver.bodies()[0]
    assert (sent["run_id"], sent["event_id"], sent["state"], sent["outcome"]) == (
        run_id,
        "evt-1",
        "done",
        "fixed",
    )
    assert sent["report"]["run_id"] == run_id
    assert sent["report"]["resent"] is True
    assert sent["state_reason"] is None  # a rejection's reason, a fix that did not hold…
    assert sent["report"]["finished_at"].endswith("+00:00")


def test_a_refused_callback_is_retried_with_backoff(harness: Harness) -> None:
    harness.receiver.fail = 2
    with harness.client() as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure(callback=True)).json()["run_id"]
        run = delivered(client, run_id, "delivered")
    assert run["callback"]["attempts"] == 3
    assert len(harness.receiver.received) == 3
    bodies = harness.receiver.bodies()
    assert bodies[0] == bodies[2]


def test_delivery_gives_up_after_the_cap_and_says_why(harness: Harness) -> None:
    harness.receiver.fail = 100
    with harness.client() as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure(callback=True)).json()["run_id"]
        run = delivered(client, run_id, "failed")
    assert run["callback"] == {
        "state": "failed",
        "attempts": 3,
        "next_attempt_at": None,
        "last_error": "HTTP 500",
    }
    assert len(harness.receiver.received) == 3


def test_no_callback_url_means_no_delivery(harness: Harness) -> None:
    with harness.client() as client:
        harness.connect(client)
        run = wait_for(client, post_failure(client, harness.failure()).json()["run_id"])
    assert run["callback"]["state"] == "none"
    assert harness.receiver.received == []
