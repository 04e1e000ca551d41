"""The company's turn on the sandbox: the lease is keyed on the tenant from the first moment,
an apply waits while another process holds it, and a lost lease stops the writes."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from remediator import companies as companies_module
from remediator.errors import LeaseLost
from remediator.failure import ExportFailure
from remediator.kinds import ErrorKind
from remediator.sandbox.state import Grant
from remediator.storage import Connection
from remediator.storage.leases import LeaseStore
from tests.e2e.conftest import OpenRig, provoke
from tests.e2e.support import Rig, state_for, writes


def lease_store(rig: Rig) -> LeaseStore:
    return rig.runtime.engine.companies.leases.store


async def with_new_connection(open_rig: OpenRig) -> tuple[Rig, ExportFailure, Grant]:
    """A rig whose Z-report export failed, and a second connection to the same company,
    ``rest-new``, whose company is not stored yet (an imported refresh token); the failure as
    it would come for ``rest-new``, and the grant behind it."""
    state = state_for(ErrorKind.SERIES_MISSING)
    grant = state.grants[0]
    state.grants.append(grant.model_copy(update={"name": "haga", "refresh_token": "rt-haga"}))
    rig = await open_rig(state)
    failure = await rig.export()
    rig.runtime.store.add(
        Connection(
            id="rest-new",
            label="Bistro Ljus, Haga",
            client_id=grant.client_id,
            refresh_token=SecretStr("rt-haga"),
        )
    )
    return rig, failure.model_copy(update={"connection_id": "rest-new"}), grant


async def test_a_connection_learns_its_company_before_anything_acts_on_it(
    open_rig: OpenRig,
) -> None:
    rig, _, grant = await with_new_connection(open_rig)
    store = rig.runtime.store
    assert store.get("rest-new").tenant_id is None
    async with rig.runtime.engine.turn("rest-new") as turn:
        assert turn.company_known
        assert turn.lease.key == f"tenant:{grant.tenant_id}"
        holder = lease_store(rig).holder(turn.lease.key)
        assert holder is not None
        assert holder.owner == turn.lease.owner
        assert lease_store(rig).holder("connection:rest-new") is None  # learnt, then let go
    assert store.get("rest-new").tenant_id == grant.tenant_id
    assert lease_store(rig).holder(f"tenant:{grant.tenant_id}") is None


@pytest.mark.parametrize("claim", [True, False], ids=["token-claim", "companyinformation"])
async def test_the_requests_that_learn_the_company_are_in_the_runs_audit_trail(
    open_rig: OpenRig, monkeypatch: pytest.MonkeyPatch, claim: bool
) -> None:
    rig, failure, grant = await with_new_connection(open_rig)
    if not claim:  # an access token that does not name its company: Fortnox is asked
        monkeypatch.setattr(companies_module, "tenant_of", lambda _token: None)
    seen = len(rig.sandbox.requests)
    report = await rig.runtime.engine.run(failure, mode="apply")
    assert report.outcome.value == "fixed"
    assert rig.runtime.store.get("rest-new").tenant_id == grant.tenant_id
    sent = list(rig.sandbox.requests)[seen:]
    tokens = [r for r in sent if r["path"] == "/oauth-v1/token"]
    assert len(tokens) == 1  # the refresh that told the company (or let us ask) served the run
    learnt = [r for r in sent if r["path"] == "/3/companyinformation"]
    assert len(learnt) == (0 if claim else 1)
    assert report.requests.token_calls == 1
    assert report.requests.total == len(sent)
    audited = rig.runtime.runs.audit(report.run_id)
    assert [e.path for e in audited] == [r["path"] for r in sent]


async def test_learning_in_a_turn_without_a_run_is_not_put_in_a_later_runs_trail(
    open_rig: OpenRig,
) -> None:
    rig, failure, _ = await with_new_connection(open_rig)
    async with rig.runtime.engine.turn("rest-new"):  # as a check ahead that found nothing
        pass
    seen = len(rig.sandbox.requests)
    report = await rig.runtime.engine.run(failure, mode="apply")
    sent = list(rig.sandbox.requests)[seen:]
    assert "/oauth-v1/token" not in [r["path"] for r in sent]  # its access token still serves
    assert report.requests.token_calls == 0
    assert [e.path for e in rig.runtime.runs.audit(report.run_id)] == [r["path"] for r in sent]


async def test_an_apply_waits_while_another_process_holds_the_company(
    open_rig: OpenRig,
) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_MISSING)
    key = f"tenant:{rig.connection.tenant_id}"
    assert lease_store(rig).acquire(key, "another-process", 30)
    seen = len(rig.sandbox.requests)
    applying = asyncio.create_task(rig.runtime.engine.run(failure, mode="apply"))
    await asyncio.sleep(0.5)
    assert not applying.done()
    assert writes(list(rig.sandbox.requests)[seen:]) == []
    lease_store(rig).release(key, "another-process")
    report = await asyncio.wait_for(applying, 10)
    assert report.outcome.value == "fixed"
    assert lease_store(rig).holder(key) is None


async def test_a_plan_needs_no_turn(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_MISSING)
    assert lease_store(rig).acquire(f"tenant:{rig.connection.tenant_id}", "another", 30)
    report = await asyncio.wait_for(rig.runtime.engine.run(failure, mode="plan"), 10)
    assert report.outcome.value == "would_fix"


async def test_a_lost_lease_stops_the_run_before_its_first_write(open_rig: OpenRig) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_MISSING)
    seen = len(rig.sandbox.requests)
    async with rig.runtime.engine.turn(rig.connection.id) as turn:
        turn.lease.lost = "taken over (test)"
        with pytest.raises(LeaseLost, match="taken over"):
            await rig.runtime.engine.run(failure, mode="apply")
    assert writes(list(rig.sandbox.requests)[seen:]) == []
    run = rig.runtime.runs.find(limit=1)[0]
    assert run.outcome == "failed"  # the run still ends with its report, which says why
    assert "lost the lease" in (run.report or "")


async def test_a_connection_whose_company_cannot_be_learnt_reads_and_reports(
    open_rig: OpenRig,
) -> None:
    rig, failure = await provoke(open_rig, ErrorKind.SERIES_MISSING)
    grant = rig.sandbox.world.state.grants[0]
    rig.runtime.store.add(
        Connection(
            id="rest-dead-grant",
            label="Bistro Ljus, Haga",
            client_id=grant.client_id,
            refresh_token=SecretStr("rt-that-fortnox-never-issued"),
        )
    )
    async with rig.runtime.engine.turn("rest-dead-grant") as turn:
        assert turn.lease.key == "connection:rest-dead-grant"
        assert not turn.company_known
        with pytest.raises(LeaseLost, match="not known yet"):
            turn.before_write()
    dead = failure.model_copy(update={"connection_id": "rest-dead-grant"})
    report = await rig.runtime.engine.run(dead, mode="apply")
    assert report.outcome.value == "manual_action_required"  # reconnect: the report says how
