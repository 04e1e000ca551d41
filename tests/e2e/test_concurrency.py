"""Failures handed to the engine at the same time: runs on one Fortnox company take turns, so
a fix is made once and every Z-report is booked once, even through two restaurants'
connections to the same company."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from pydantic import SecretStr

from remediator.failure import ExportFailure
from remediator.kinds import ErrorKind
from remediator.report import Outcome
from remediator.storage import Connection
from tests.e2e.conftest import OpenRig
from tests.e2e.support import Rig, state_for, writes

SERIES_MISSING = {"message": "Fel vid export: Ogiltig verifikationsserie angiven", "code": 2001939}


def day_failure(rig: Rig, day: date, connection_id: str) -> ExportFailure:
    body = rig.voucher_body(TransactionDate=day.isoformat(), Description=f"Z-rapport {day}")
    failure = rig.failure(SERIES_MISSING, body, id=f"z-{day}", date=day.isoformat())
    return failure.model_copy(update={"connection_id": connection_id})


async def test_simultaneous_failures_of_one_company_fix_once_and_book_each_once(
    open_rig: OpenRig,
) -> None:
    state = state_for(ErrorKind.SERIES_MISSING)
    first = state.grants[0]
    # Another restaurant connected to the same Fortnox company, with its own consent.
    state.grants.append(first.model_copy(update={"name": "haga", "refresh_token": "rt-haga"}))
    rig = await open_rig(state)
    second = rig.runtime.store.add(
        Connection(
            id="rest-second",
            label="Bistro Ljus, Haga",
            client_id=first.client_id,
            tenant_id=first.tenant_id,
            refresh_token=SecretStr("rt-haga"),
        )
    )
    rig.sandbox.set_faults(latency=0.005)  # so that unserialised runs would overlap
    days = [date(2026, 3, 2) + timedelta(days=n) for n in range(4)]
    failures = [
        day_failure(rig, day, rig.connection.id if n % 2 else second.id)
        for n, day in enumerate(days)
    ]
    seen = len(rig.sandbox.requests)
    reports = await asyncio.gather(*(rig.runtime.engine.run(f, mode="apply") for f in failures))
    assert [r.outcome for r in reports] == [Outcome.FIXED] * len(days)
    made = writes(list(rig.sandbox.requests)[seen:])
    assert made.count(("POST", "/3/voucherseries")) == 1
    assert made.count(("POST", "/3/vouchers")) == len(days)
    for failure in failures:
        assert len(rig.vouchers(failure.export_key)) == 1
