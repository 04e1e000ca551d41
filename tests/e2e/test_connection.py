"""Connection invalidated: a dead grant gets a reconnect link and the connection is marked; a
working one is proven with one read; a Fortnox company shared by restaurants is warned about."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from remediator.kinds import ErrorKind
from remediator.report import Outcome, StepStatus
from remediator.storage import Connection
from remediator.storage.connections import ConnectionStatus
from tests.e2e.conftest import OpenRig, provoke
from tests.e2e.expectations import assert_honest
from tests.e2e.support import Rig, api_calls, healthy_state

INVALIDATED = {"message": "Kopplingen har invaliderats av Fortnox"}


def share_tenant(rig: Rig) -> None:
    rig.runtime.store.add(
        Connection(
            id="rest-second",
            label="Bistro Ljus, Haga",
            client_id=rig.connection.client_id,
            tenant_id=rig.connection.tenant_id,
        )
    )


async def test_a_dead_grant_gets_a_reconnect_link_and_is_marked(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.CONNECTION_INVALIDATED)
    share_tenant(rig)
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert api_calls(requests) == []
    base = f"{rig.runtime.settings.public_url}/v1/connections/{rig.connection.id}/authorize?"
    links = {
        word.rstrip(".,")
        for line in report.manual_steps.sv + report.manual_steps.en
        for word in line.split()
        if word.startswith(base)
    }
    assert len(links) == 1  # the same link in both languages, signed and expiring
    query = parse_qs(urlsplit(links.pop()).query)
    expires, sig = query["expires"][0], query["sig"][0]
    assert rig.runtime.engine.links.verify(rig.connection.id, expires, sig) == int(expires)
    assert any("rest-second" in line for line in report.manual_steps.en)
    stored = rig.runtime.store.get(rig.connection.id)
    assert stored.status is ConnectionStatus.NEEDS_RECONNECT
    assert_honest(report)


async def test_a_grant_revoked_while_a_token_was_held_is_found_dead(open_rig: OpenRig) -> None:
    rig = await open_rig(healthy_state())
    client = rig.runtime.connector.client(rig.connection, read_only=True)
    await client.company_information()  # the connection holds a valid access token now
    rig.sandbox.world.revoke("bistro")
    failure = rig.failure(INVALIDATED, rig.voucher_body())
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    assert [(r["path"], r["status"]) for r in requests] == [
        ("/3/companyinformation", 401),
        ("/oauth-v1/token", 400),
    ]
    assert report.requests.by_method == {"GET": 1}
    assert report.requests.token_calls == 1
    assert rig.runtime.store.get(rig.connection.id).status is ConnectionStatus.NEEDS_RECONNECT


async def test_a_working_connection_is_proven_with_one_read_and_sharing_warned(
    open_rig: OpenRig,
) -> None:
    rig = await open_rig(healthy_state())
    share_tenant(rig)
    failure = rig.failure(INVALIDATED, rig.voucher_body())
    report, requests = await rig.run(failure, "apply")
    assert report.outcome is Outcome.NOTHING_TO_FIX
    assert api_calls(requests) == [("GET", "/3/companyinformation")]
    step = report.steps[0]
    assert step.status is StepStatus.OK
    assert step.observed["shared_with"] == ["rest-second"]
    assert any("rest-second" in line for line in report.manual_steps.sv)
