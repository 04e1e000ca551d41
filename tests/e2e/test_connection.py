"""Connection invalidated, end to end on the sandbox (single-use refresh tokens; presenting a
used one revokes the grant; its request log is the oracle).

The grant is proven by refreshing it, never by an access token that still works: a dead grant
gets a reconnect link that says whose fault it was, a live one is refreshed and the day booked
once. Rotated refresh tokens are never lost by the remediator: a failed store is retried, an
answer without a refresh token is refused, and a token lost anyway is reported as lost by the
remediator, not as invalidated by Fortnox.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from remediator.failure import ExportFailure
from remediator.fortnox import ReconnectCause, StoreRetry, TokenSet
from remediator.kinds import ErrorKind
from remediator.report import Outcome, Report, StepStatus
from remediator.storage import Connection, ConnectionStatus
from tests.e2e.conftest import OpenRig, provoke
from tests.e2e.expectations import assert_honest
from tests.e2e.support import Rig, api_calls, healthy_state

INVALIDATED = {"message": "Kopplingen har invaliderats av Fortnox"}
GRANT = "bistro"  # the healthy scenario's grant


def share_tenant(rig: Rig) -> None:
    rig.runtime.store.add(
        Connection(
            id="rest-second",
            label="Bistro Ljus, Haga",
            client_id=rig.connection.client_id,
            tenant_id=rig.connection.tenant_id,
        )
    )


def tokens_seen(requests: list[dict[str, Any]]) -> list[tuple[str | None, int | None]]:
    """The token endpoint's answers in a run: (grant type, status)."""
    return [(r.get("grant_type"), r["status"]) for r in requests if r["path"] == "/oauth-v1/token"]


def reconnect_link(rig: Rig, report: Report) -> str:
    base = f"{rig.runtime.settings.public_url}/v1/connections/{rig.connection.id}/authorize?"
    links = {
        word.rstrip(".,")
        for line in report.manual_steps.sv + report.manual_steps.en
        for word in line.split()
        if word.startswith(base)
    }
    assert len(links) == 1, links  # the same link in both languages, signed and expiring
    return links.pop()


def booked(rig: Rig, failure: ExportFailure) -> int:
    """How many times the failed export is in the books."""
    return len(rig.vouchers(failure.export_key))


async def hold_an_access_token(rig: Rig) -> None:
    """The connection holds a valid access token (as after any run)."""
    await rig.runtime.connector.client(rig.connection, read_only=True).company_information()


def stored(rig: Rig) -> Connection:
    return rig.runtime.store.get(rig.connection.id)


def live_refresh_token(rig: Rig) -> str:
    return rig.sandbox.world.grants[GRANT].refresh_token


async def test_a_dead_grant_gets_a_reconnect_link_and_is_marked(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.CONNECTION_INVALIDATED)
    share_tenant(rig)
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert api_calls(requests) == []
    query = parse_qs(urlsplit(reconnect_link(rig, report)).query)
    expires, sig = query["expires"][0], query["sig"][0]
    assert rig.runtime.engine.links.verify(rig.connection.id, expires, sig) == int(expires)
    assert any("rest-second" in line for line in report.manual_steps.en)
    assert stored(rig).status is ConnectionStatus.NEEDS_RECONNECT
    assert stored(rig).status_cause is ReconnectCause.INVALIDATED
    assert_honest(report)


async def test_a_dead_refresh_token_behind_a_working_access_token_gets_the_reconnect_link(
    open_rig: OpenRig,
) -> None:
    rig = await open_rig(healthy_state())
    await hold_an_access_token(rig)
    # Another system refreshes the same connection: our stored refresh token is used up, and
    # the access token we hold keeps working (until it expires).
    rig.sandbox.world.refresh(stored(rig).refresh_token.get_secret_value(), "remediator-demo")  # type: ignore[union-attr]
    failure = rig.failure(INVALIDATED, rig.voucher_body())
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED  # not nothing_to_fix
    assert tokens_seen(requests) == [("refresh_token", 400)]
    assert api_calls(requests) == []
    assert report.steps[0].status is StepStatus.NEEDS_MANUAL
    assert report.steps[0].summary.en.startswith("Fortnox invalidated the connection")
    reconnect_link(rig, report)
    assert (stored(rig).status, stored(rig).status_cause) == (
        ConnectionStatus.NEEDS_RECONNECT,
        ReconnectCause.INVALIDATED,
    )
    assert not report.resent
    assert booked(rig, failure) == 0
    assert_honest(report)


async def test_a_grant_revoked_while_a_token_was_held_is_found_dead(open_rig: OpenRig) -> None:
    rig = await open_rig(healthy_state())
    await hold_an_access_token(rig)
    rig.sandbox.world.revoke(GRANT)
    failure = rig.failure(INVALIDATED, rig.voucher_body())
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert [(r["path"], r["status"]) for r in requests] == [("/oauth-v1/token", 400)]
    assert report.requests.by_method == {}
    assert report.requests.token_calls == 1
    assert stored(rig).status is ConnectionStatus.NEEDS_RECONNECT


async def test_a_live_grant_is_proven_by_a_refresh_and_the_day_booked_once(
    open_rig: OpenRig,
) -> None:
    rig = await open_rig(healthy_state())
    await hold_an_access_token(rig)
    share_tenant(rig)
    failure = rig.failure(INVALIDATED, rig.voucher_body())
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.FIXED
    assert [s.action for s in report.steps] == [
        "refresh_connection",
        "financial_year",
        "resend_voucher",
    ]
    assert [s.status for s in report.steps] == [
        StepStatus.OK,
        StepStatus.OK,
        StepStatus.CHANGED,
    ]
    assert tokens_seen(requests) == [("refresh_token", 200)]
    assert ("POST", "/3/vouchers") in api_calls(requests)
    assert report.resent
    assert "was booked as voucher" in report.summary.en
    assert report.steps[0].observed["shared_with"] == ["rest-second"]
    assert any("rest-second" in line for line in report.manual_steps.sv)
    assert stored(rig).refresh_token == SecretStr(live_refresh_token(rig))
    again, _ = await rig.run(failure, "apply")
    assert again.outcome is Outcome.NOTHING_TO_FIX
    assert again.voucher is not None
    assert again.voucher.already_booked
    assert booked(rig, failure) == 1
    assert_honest(report)


async def test_a_plan_proves_the_grant_too_and_writes_nothing(open_rig: OpenRig) -> None:
    rig = await open_rig(healthy_state())
    failure = rig.failure(INVALIDATED, rig.voucher_body())
    report, requests = await rig.run(failure, "plan")
    assert report.outcome is Outcome.WOULD_FIX
    assert tokens_seen(requests) == [("refresh_token", 200)]
    assert [m for m, _ in api_calls(requests)] == ["GET", "GET"]


async def test_a_token_answer_without_a_refresh_token_is_refused(open_rig: OpenRig) -> None:
    rig = await open_rig(healthy_state())
    await hold_an_access_token(rig)
    before = stored(rig)
    rig.sandbox.set_faults(refresh_without_refresh_token=1)
    failure = rig.failure(INVALIDATED, rig.voucher_body())
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.FAILED
    assert tokens_seen(requests) == [("refresh_token", 200)]
    assert api_calls(requests) == []  # nothing sent with a token the remediator refused
    step = report.steps[0]
    assert (step.status, step.observed["token_error"], step.unavailable) == (
        StepStatus.FAILED,
        "refresh_token_missing",
        True,  # the service tries the run again later
    )
    assert "without a new refresh token" in step.summary.en
    assert "utan någon ny förnyelsenyckel" in step.summary.sv
    after = stored(rig)  # kept as it was: active, the same tokens, no mark left
    assert (after.status, after.refresh_token, after.access_token) == (
        ConnectionStatus.ACTIVE,
        before.refresh_token,
        before.access_token,
    )
    assert after.refresh_started_at is None
    again, requests = await rig.run(failure, "apply")  # the refresh token is still good
    assert again.outcome is Outcome.FIXED
    assert tokens_seen(requests) == [("refresh_token", 200)]
    assert booked(rig, failure) == 1
    assert_honest(report)


def failing_store(rig: Rig, monkeypatch: pytest.MonkeyPatch, failures: int) -> list[str]:
    """The store's write of rotated tokens fails ``failures`` times (a database that is down
    for a moment, or a crash), then works; returns the log of attempts."""
    store, attempts = rig.runtime.store, []
    real = store.store_refreshed

    def flaky(connection_id: str, owner: str, tokens: TokenSet) -> Connection | None:
        attempts.append(connection_id)
        if len(attempts) <= failures:
            raise OperationalError("UPDATE connections", {}, Exception("database is locked"))
        return real(connection_id, owner, tokens)

    monkeypatch.setattr(store, "store_refreshed", flaky)
    rig.runtime.connector.store_retry = StoreRetry(attempts=4, initial_wait=0.001, max_wait=0.01)
    return attempts


async def test_a_rotated_token_whose_store_fails_is_stored_by_a_retry(
    open_rig: OpenRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = await open_rig(healthy_state())
    attempts = failing_store(rig, monkeypatch, failures=2)
    failure = rig.failure(INVALIDATED, rig.voucher_body())
    report, requests = await rig.run(failure, "apply")
    assert len(attempts) == 3
    assert report.outcome is Outcome.FIXED
    assert tokens_seen(requests) == [("refresh_token", 200)]
    assert stored(rig).refresh_token == SecretStr(live_refresh_token(rig))
    assert stored(rig).refresh_started_at is None
    again, requests = await rig.run(failure, "apply")
    assert tokens_seen(requests) == [("refresh_token", 200)]  # the stored token was the live one
    assert again.outcome is Outcome.NOTHING_TO_FIX
    assert booked(rig, failure) == 1


async def test_a_token_lost_between_rotation_and_store_is_reported_as_lost_by_the_remediator(
    open_rig: OpenRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = await open_rig(healthy_state())
    attempts = failing_store(rig, monkeypatch, failures=100)
    failure = rig.failure(INVALIDATED, rig.voucher_body())
    first, requests = await rig.run(failure, "apply")
    assert len(attempts) == 4  # every retry failed: Fortnox rotated, nothing got stored
    assert tokens_seen(requests) == [("refresh_token", 200)]
    assert first.outcome is Outcome.FAILED
    assert first.steps[0].observed["token_error"] == "store_failed"
    assert "could not be stored" in first.steps[0].summary.en
    left = stored(rig)
    assert left.status is ConnectionStatus.ACTIVE
    assert left.refresh_started_at is not None  # "refresh in progress" was marked first

    second, requests = await rig.run(failure, "apply")
    assert tokens_seen(requests) == [("refresh_token", 400)]  # the old token is used up
    assert second.outcome is Outcome.MANUAL_ACTION_REQUIRED
    step = second.steps[0]
    assert step.summary.en.startswith("The remediator lost the connection's refresh token")
    assert step.summary.sv.startswith("Remediatorn tappade kopplingens förnyelsenyckel")
    assert "invalidated" not in step.summary.en
    assert step.observed["cause"] == "lost_by_remediator"
    reconnect_link(rig, second)
    dead = stored(rig)
    assert (dead.status, dead.status_cause) == (
        ConnectionStatus.NEEDS_RECONNECT,
        ReconnectCause.LOST,
    )
    assert "lost" in (dead.status_reason or "")

    third, requests = await rig.run(failure, "apply")  # later runs say the same, asking nobody
    assert tokens_seen(requests) == []
    assert third.steps[0].summary.en.startswith("The remediator lost")
    assert booked(rig, failure) == 0
    assert_honest(second)
