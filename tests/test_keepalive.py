"""Keep-alive against the sandbox with its clock moved: connections idle for 40 days are
refreshed before their refresh tokens die (one refresh each), a revoked grant is found the same
day and the Backoffice gets its reconnect link in a signed POST."""

from __future__ import annotations

import json
import time

import httpx
from pydantic import SecretStr

from remediator import signing
from remediator.backoffice import BackofficeNotifier
from remediator.keepalive import (
    DAY,
    EVENT_NEEDS_RECONNECT,
    KeepAlive,
    Kept,
    refresh_due,
)
from remediator.sandbox.state import Grant
from remediator.storage import Connection, ConnectionStatus
from tests.e2e.conftest import OpenRig
from tests.e2e.support import Rig, healthy_state

SECRET = "backoffice-secret"
URL = "http://backoffice.test/remediator/events"


def second_grant() -> Grant:
    return Grant(
        name="second",
        tenant_id="100001",
        user_id="u1",
        client_id="remediator-demo",
        refresh_token="rt-second-1",
    )


async def open_two(open_rig: OpenRig) -> Rig:
    state = healthy_state()
    state.grants.append(second_grant())
    rig = await open_rig(state)
    rig.runtime.store.add(
        Connection(
            id="second",
            label="Second",
            client_id="remediator-demo",
            tenant_id="100001",
            refresh_token=SecretStr("rt-second-1"),
        )
    )
    return rig


class Backoffice:
    """The Backoffice's endpoint: records what it was sent, checks each signature."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        signing.verify(request.headers.get(signing.HEADER), request.content, SECRET)
        self.events.append(json.loads(request.content))
        return httpx.Response(204)


def keepalive(rig: Rig, backoffice: Backoffice, *, probe: bool = True) -> KeepAlive:
    settings = rig.runtime.settings.model_copy(
        update={
            "backoffice_url": URL,
            "callback_secret": SecretStr(SECRET),
            "keepalive_probe": probe,
        }
    )
    notifier = BackofficeNotifier(
        settings, transport=httpx.MockTransport(backoffice.handle), wait_seconds=0
    )
    return KeepAlive(
        rig.runtime.connector,
        store=rig.runtime.store,
        links=rig.runtime.engine.links,
        notifier=notifier,
        settings=settings,
        clock=lambda: time.time() + rig.sandbox.world.offset,  # the sandbox's days pass
    )


def refreshes(rig: Rig, since: int = 0) -> int:
    return sum(1 for r in rig.sandbox.requests[since:] if r.get("grant_type") == "refresh_token")


async def test_connections_idle_for_40_days_are_refreshed_before_they_die(
    open_rig: OpenRig,
) -> None:
    rig = await open_two(open_rig)
    job = keepalive(rig, Backoffice())
    first = await job.run()  # imported tokens are of unknown age: refreshed at once
    assert {(k.connection_id, k.result) for k in first} == {
        (rig.connection.id, Kept.REFRESHED),
        ("second", Kept.REFRESHED),
    }
    rig.sandbox.advance(40 * DAY)
    seen = len(rig.sandbox.requests)
    later = await job.run()
    assert [k.result for k in later] == [Kept.REFRESHED, Kept.REFRESHED]
    assert refreshes(rig, seen) == 2  # one refresh per connection
    rig.sandbox.advance(40 * DAY)  # 80 days since import: alive only thanks to keep-alive
    assert [k.result for k in await job.run()] == [Kept.REFRESHED, Kept.REFRESHED]
    for connection in rig.runtime.store.all():
        assert connection.status is ConnectionStatus.ACTIVE


async def test_without_keepalive_a_connection_idle_for_46_days_is_dead(
    open_rig: OpenRig,
) -> None:
    rig = await open_rig(healthy_state())
    await keepalive(rig, Backoffice()).run()
    rig.sandbox.advance(46 * DAY)
    late = await keepalive(rig, Backoffice()).run()
    assert [k.result for k in late] == [Kept.NEEDS_RECONNECT]


async def test_a_young_connection_is_probed_not_refreshed(open_rig: OpenRig) -> None:
    rig = await open_rig(healthy_state())
    job = keepalive(rig, Backoffice())
    await job.run()
    rig.sandbox.advance(2 * DAY)
    seen = len(rig.sandbox.requests)
    assert [k.result for k in await job.run()] == [Kept.ALIVE]
    paths = [r["path"] for r in rig.sandbox.requests[seen:]]
    assert "/3/financialyears" in paths
    assert refreshes(rig, seen) == 1  # the two-day-old access token had expired: renewed


async def test_a_revoked_grant_is_found_the_same_day_and_the_backoffice_told(
    open_rig: OpenRig,
) -> None:
    rig = await open_two(open_rig)
    backoffice = Backoffice()
    job = keepalive(rig, backoffice)
    await job.run()
    rig.sandbox.world.revoke("second")
    found = {k.connection_id: k.result for k in await job.run()}
    assert found == {rig.connection.id: Kept.ALIVE, "second": Kept.NEEDS_RECONNECT}
    second = rig.runtime.store.get("second")
    assert second.status is ConnectionStatus.NEEDS_RECONNECT
    [event] = backoffice.events
    assert event["event"] == EVENT_NEEDS_RECONNECT
    assert event["connection_id"] == "second"
    assert event["status_cause"] == "invalidated_by_fortnox"
    assert str(event["reconnect_url"]).startswith(
        f"{rig.runtime.settings.public_url}/v1/connections/second/authorize?expires="
    )
    again = await job.run()  # a connection waiting for a person is not tried again
    assert [k.connection_id for k in again] == [rig.connection.id]
    assert len(backoffice.events) == 1


def test_a_refresh_is_due_by_age_or_unknown_age() -> None:
    now = 100 * DAY
    young = Connection(id="c", label="c", client_id="x", last_refresh_at=now - 29 * DAY)
    old = young.model_copy(update={"last_refresh_at": now - 30 * DAY})
    unknown = young.model_copy(update={"last_refresh_at": None})
    assert not refresh_due(young, now, 30)
    assert refresh_due(old, now, 30)
    assert refresh_due(unknown, now, 30)
