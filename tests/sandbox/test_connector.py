"""The real connector against the sandbox: every client method, token refresh with rotation,
Fortnox's refusals as the connector's errors, and read-only mode. The connector is configured
exactly as in its own tests (same URLs); only the transport is the sandbox's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest
from pydantic import SecretStr

from remediator.fortnox import (
    BadRequest,
    ConsentRequired,
    Forbidden,
    FortnoxAPIError,
    FortnoxClient,
    FortnoxConnector,
    RateLimited,
    ReadOnlyViolation,
    RetryPolicy,
    ServerError,
    Voucher,
    WriteOutcomeUnknown,
)
from remediator.sandbox import Sandbox
from remediator.settings import Settings
from remediator.storage import Connection, ConnectionStore
from tests.sandbox.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH,
    TENANT,
    StateData,
    changed,
    tenant,
    z_report,
)
from tests.sandbox.openapi import CheckedTransport

DAY = date(2026, 3, 2)


@dataclass
class Rig:
    sandbox: Sandbox
    connector: FortnoxConnector
    store: ConnectionStore
    transport: CheckedTransport

    def client(self, *, read_only: bool = False) -> FortnoxClient:
        return self.connector.client(self.store.get("bistro"), read_only=read_only)

    def stored_refresh_token(self) -> str:
        token = self.store.get("bistro").refresh_token
        assert token is not None
        return token.get_secret_value()

    def token_calls(self) -> list[int | None]:
        return [r["status"] for r in self.sandbox.requests if r["path"] == "/oauth-v1/token"]


async def open_rig(sandbox: Sandbox, settings: Settings, store: ConnectionStore) -> Rig:
    grant = sandbox.world.state.grants[0]
    store.add(
        Connection(
            id="bistro",
            label="Bistro Ljus",
            client_id=CLIENT_ID,
            tenant_id=grant.tenant_id,
            refresh_token=SecretStr(grant.refresh_token),
        )
    )
    transport = CheckedTransport(sandbox.transport())
    fast = RetryPolicy(attempts=3, max_seconds=5, initial_wait=0.001, max_wait=0.01, jitter=0.001)
    sandbox_settings = settings.model_copy(
        update={"client_id": CLIENT_ID, "client_secret": SecretStr(CLIENT_SECRET)}
    )
    connector = FortnoxConnector(sandbox_settings, store, transport=transport, retry=fast)
    return Rig(sandbox, connector, store, transport)


@pytest.fixture
async def rig(sandbox: Sandbox, settings: Settings, store: ConnectionStore) -> AsyncIterator[Rig]:
    opened = await open_rig(sandbox, settings, store)
    async with opened.connector:
        yield opened


async def test_financial_years_for_a_date_and_none(rig: Rig) -> None:
    client = rig.client()
    year = await client.financial_year_for(DAY)
    assert year is not None
    assert (year.id, year.from_date, year.to_date) == (2, date(2026, 1, 1), date(2026, 12, 31))
    assert await client.financial_year_for(date(2031, 1, 1)) is None
    assert [y.id for y in await client.financial_years()] == [1, 2]


async def test_voucher_series_get_list_create_update(rig: Rig) -> None:
    client = rig.client()
    f = await client.voucher_series("F", 2)
    assert f is not None
    assert (f.manual, f.year, f.next_voucher_number) == (True, 2, 61)
    assert await client.voucher_series("K", 2) is None
    assert [s.code for s in await client.voucher_series_list(2)] == ["A", "F"]
    created = await client.create_voucher_series("K", "Kassa 2", 2)
    assert (created.code, created.manual, created.year) == ("K", True, 2)
    updated = await client.update_voucher_series("K", 2, manual=False)
    assert (updated.manual, updated.description) == (False, "Kassa 2")
    assert await client.voucher_series("K", 1) is None


async def test_accounts_get_create_update(rig: Rig) -> None:
    client = rig.client()
    kassa = await client.account(1910, 2)
    assert kassa is not None
    assert (kassa.description, kassa.active, kassa.year) == ("Kassa", True, 2)
    assert await client.account(1111, 2) is None
    created = await client.create_account(3999, "Övriga intäkter", 2)
    assert (created.number, created.active) == (3999, True)
    off = await client.update_account(3001, 2, active=False)
    assert off.active is False
    again = await client.account(3001, 1)
    assert again is not None
    assert again.active is True


async def test_all_accounts_come_back_over_every_page(
    settings: Settings, store: ConnectionStore
) -> None:
    def big_chart(data: StateData) -> None:
        tenant(data)["charts"]["2"]["accounts"] = [
            {"number": n, "description": f"Konto {n}"} for n in range(5000, 6100)
        ]

    sandbox = changed(big_chart)
    async with (await open_rig(sandbox, settings, store)).connector as connector:
        accounts = await connector.client(store.get("bistro"), read_only=True).accounts(2)
    expected = sorted(sandbox.world.companies[TENANT].accounts[2])
    assert len(expected) > 1000
    assert [a.number for a in accounts] == expected
    pages = [r["query"] for r in sandbox.requests if r["path"] == "/3/accounts"]
    assert pages == [f"financialyear=2&limit=500&page={n}" for n in (1, 2, 3)]


async def test_vouchers_create_search_get(rig: Rig) -> None:
    client = rig.client()
    voucher = Voucher.model_validate(z_report(rig.sandbox))
    created = await client.create_voucher(voucher, 2)
    assert (created.voucher_series, created.voucher_number, created.year) == ("F", 61, 2)
    found = await client.vouchers(2, "F", DAY, DAY)
    assert [v.voucher_number for v in found] == [61]
    assert await client.vouchers(2, "A", DAY, DAY) == []
    read = await client.voucher("F", 61, 2)
    assert read.voucher_rows == voucher.voucher_rows
    assert read.description == voucher.description


async def test_company_information_me_and_locked_period(rig: Rig) -> None:
    client = rig.client(read_only=True)
    info = await client.company_information()
    assert (info.company_name, info.database_number) == ("Bistro Ljus AB", int(TENANT))
    me = await client.me()
    assert (me.id, me.name, me.sys_admin) == ("u1", "Anna Ek", True)
    locked = await client.locked_period()
    assert locked.end_date == date(2025, 12, 31)
    assert locked.locks(date(2025, 12, 31))
    assert not locked.locks(DAY)


async def test_the_first_call_refreshes_and_stores_the_rotated_token(rig: Rig) -> None:
    await rig.client().me()
    rotated = rig.stored_refresh_token()
    assert rotated != REFRESH
    assert rig.sandbox.world.grants["bistro"].refresh_token == rotated
    await rig.client().company_information()
    assert rig.token_calls() == [200]  # the stored access token is reused


async def test_an_expired_access_token_is_refreshed_once_and_the_call_resent(rig: Rig) -> None:
    await rig.client().me()
    first = rig.stored_refresh_token()
    rig.sandbox.advance(3601)  # the sandbox's hour passes; the connector's clock does not know
    assert (await rig.client().me()).id == "u1"
    statuses = [(r["path"], r["status"]) for r in rig.sandbox.requests]
    assert statuses[-3:] == [("/3/me", 401), ("/oauth-v1/token", 200), ("/3/me", 200)]
    assert rig.stored_refresh_token() not in (REFRESH, first)
    assert rig.sandbox.world.grants["bistro"].revoked is False  # no token was ever reused


async def test_a_revoked_grant_asks_for_consent(rig: Rig) -> None:
    rig.sandbox.world.revoke("bistro")
    with pytest.raises(ConsentRequired):
        await rig.client().me()


async def test_a_read_only_client_refuses_writes_and_sends_nothing(rig: Rig) -> None:
    client = rig.client(read_only=True)
    voucher = Voucher.model_validate(z_report(rig.sandbox))
    with pytest.raises(ReadOnlyViolation):
        await client.create_voucher(voucher, 2)
    with pytest.raises(ReadOnlyViolation):
        await client.update_voucher_series("F", 2, manual=True)
    with pytest.raises(ReadOnlyViolation):
        await client.create_account(3999, "X", 2)
    assert rig.sandbox.writes() == []
    assert await client.voucher_series("F", 2) is not None


REFUSALS: list[tuple[str, type[FortnoxAPIError], int, str]] = [
    ("series_not_manual", BadRequest, 2001940, "Verifikationsserien är inte manuell (F)"),
    ("account_inactive", BadRequest, 2000550, 'Konto "3001" är inte aktivt'),
    ("series_missing", BadRequest, 2001939, "Ogiltig verifikationsserie angiven"),
    ("access_denied", Forbidden, 2002455, "Saknar behörighet för att bokföra verifikationer"),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_fortnox_refusals_become_the_connector_s_errors(
    settings: Settings,
    store: ConnectionStore,
    refusal: tuple[str, type[FortnoxAPIError], int, str],
) -> None:
    scenario, error, code, message = refusal
    sandbox = Sandbox.from_scenario(scenario)
    async with (await open_rig(sandbox, settings, store)).connector as connector:
        client = connector.client(store.get("bistro"), read_only=False)
        with pytest.raises(error) as caught:
            await client.create_voucher(Voucher.model_validate(z_report(sandbox)), 2)
    assert (caught.value.code, caught.value.message) == (code, message)


async def test_a_429_storm_ends_in_rate_limited_after_the_retries(rig: Rig) -> None:
    await rig.client().me()
    rig.sandbox.set_faults(storm_429=True)
    with pytest.raises(RateLimited):
        await rig.client().me()
    assert [r["status"] for r in rig.sandbox.requests[-3:]] == [429, 429, 429]


async def test_5xx_on_a_read_is_retried_and_on_a_write_is_an_unknown_outcome(rig: Rig) -> None:
    await rig.client().me()
    rig.sandbox.set_faults(error_rate={"/3/": 1})
    with pytest.raises(ServerError):
        await rig.client().me()
    voucher = Voucher.model_validate(z_report(rig.sandbox))
    with pytest.raises(WriteOutcomeUnknown):
        await rig.client().create_voucher(voucher, 2)
    assert len(rig.sandbox.writes()) == 1  # a POST is never retried blind


async def test_a_lost_voucher_answer_is_an_unknown_outcome_and_the_voucher_is_there(
    rig: Rig,
) -> None:
    rig.sandbox.set_faults(timeout_after_write=1)
    client = rig.client()
    voucher = Voucher.model_validate(z_report(rig.sandbox))
    with pytest.raises(WriteOutcomeUnknown):
        await client.create_voucher(voucher, 2)
    assert [v.voucher_number for v in await client.vouchers(2, "F", DAY, DAY)] == [61]


async def test_every_answer_the_connector_got_matched_fortnox_s_schemas(rig: Rig) -> None:
    client = rig.client()
    await client.financial_year_for(DAY)
    await client.accounts(2)
    await client.voucher_series_list(2)
    assert rig.transport.checked == 4  # the token call and three API calls
