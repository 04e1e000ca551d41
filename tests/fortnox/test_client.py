"""The per-connection client: envelopes, paging, read-only mode, retries, request records."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest
import respx

from remediator.fortnox import (
    FortnoxClient,
    FortnoxConnector,
    FortnoxTransportError,
    RateLimited,
    ReadOnlyViolation,
    ServerError,
    Voucher,
    WriteOutcomeUnknown,
)
from remediator.fortnox._auth import FortnoxAuth
from remediator.fortnox._connector import POOLS
from remediator.settings import Settings
from remediator.storage import ConnectionStore
from tests.conftest import API, connection
from tests.fortnox.conftest import Recorder
from tests.garbage import cyclic_garbage

RATE_LIMITED = httpx.Response(429)


@pytest.fixture
def client(connector: FortnoxConnector, store: ConnectionStore) -> FortnoxClient:
    return connector.client(store.add(connection()), read_only=False)


@pytest.fixture
def dry_client(connector: FortnoxConnector, store: ConnectionStore) -> FortnoxClient:
    return connector.client(store.add(connection("rest-dry")), read_only=True)


def voucher() -> Voucher:
    return Voucher.model_validate(
        {
            "VoucherSeries": "F",
            "TransactionDate": "2026-03-02",
            "Description": "Z-rapport 812",
            "VoucherRows": [{"Account": 1910, "Debit": 100}, {"Account": 3001, "Credit": 100}],
        }
    )


@respx.mock
async def test_financial_year_for_a_date_sends_bearer_and_reads_the_envelope(
    client: FortnoxClient,
) -> None:
    route = respx.get(f"{API}/financialyears", params={"date": "2026-03-02"}).respond(
        json={"FinancialYears": [{"Id": 2, "FromDate": "2026-01-01", "ToDate": "2026-12-31"}]}
    )
    year = await client.financial_year_for(date(2026, 3, 2))
    assert year is not None
    assert year.id == 2
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Bearer access-token-old"
    assert sent.headers["Accept"] == "application/json"


@respx.mock
async def test_no_financial_year_is_a_normal_answer(client: FortnoxClient) -> None:
    respx.get(f"{API}/financialyears").respond(json={"FinancialYears": []})
    assert await client.financial_year_for(date(2031, 1, 1)) is None


@respx.mock
async def test_series_calls_always_carry_the_financial_year(client: FortnoxClient) -> None:
    get = respx.get(f"{API}/voucherseries/F").respond(
        json={"VoucherSeries": {"Code": "F", "Description": "Kassa", "Manual": False, "Year": 2}}
    )
    put = respx.put(f"{API}/voucherseries/F").respond(
        json={"VoucherSeries": {"Code": "F", "Description": "Kassa", "Manual": True, "Year": 2}}
    )
    post = respx.post(f"{API}/voucherseries").respond(
        201, json={"VoucherSeries": {"Code": "K", "Description": "Kassa", "Manual": True}}
    )
    series = await client.voucher_series("F", 2)
    assert series is not None
    assert series.manual is False
    updated = await client.update_voucher_series("F", 2, manual=True)
    assert updated.manual is True
    await client.create_voucher_series("K", "Kassa", 2)
    for route in (get, put, post):
        assert route.calls.last.request.url.params["financialyear"] == "2"
    assert json.loads(put.calls.last.request.content) == {"VoucherSeries": {"Manual": True}}
    assert json.loads(post.calls.last.request.content) == {
        "VoucherSeries": {"Code": "K", "Description": "Kassa", "Manual": True}
    }


@respx.mock
async def test_missing_series_and_account_are_none(client: FortnoxClient) -> None:
    missing = {
        "ErrorInformation": {"error": 1, "message": "Kan inte hitta kontot.", "code": 2000423}
    }
    respx.get(f"{API}/accounts/3740").respond(404, json=missing)
    respx.get(f"{API}/voucherseries/Q").respond(
        404,
        json={
            "ErrorInformation": {
                "Error": 1,
                "Message": "Kan inte hitta verifikationsserien.",
                "Code": 2000563,
            }
        },
    )
    assert await client.account(3740, 2) is None
    assert await client.voucher_series("Q", 2) is None


@respx.mock
async def test_account_list_collects_every_page(client: FortnoxClient) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        assert request.url.params["limit"] == "500"
        assert request.url.params["financialyear"] == "2"
        rows = [
            {"Number": 1000 + (number - 1) * 500 + i, "Description": "a", "Active": True}
            for i in range(500 if number < 3 else 200)
        ]
        meta = {"@TotalResources": 1200, "@TotalPages": 3, "@CurrentPage": number}
        return httpx.Response(200, json={"MetaInformation": meta, "Accounts": rows})

    route = respx.get(f"{API}/accounts").mock(side_effect=page)
    accounts = await client.accounts(2)
    assert len(accounts) == 1200
    assert len({a.number for a in accounts}) == 1200
    assert route.call_count == 3
    chart = await client.chart(2)
    assert len(chart) == 1200
    assert chart[2199].description == "a"
    assert 2200 not in chart
    assert route.call_count == 6


@respx.mock
async def test_account_update_sends_only_what_changes(client: FortnoxClient) -> None:
    put = respx.put(f"{API}/accounts/3001").respond(
        json={"Account": {"Number": 3001, "Description": "Försäljning", "Active": True}}
    )
    account = await client.update_account(3001, 2, active=True)
    assert account.active is True
    assert json.loads(put.calls.last.request.content) == {"Account": {"Active": True}}


@respx.mock
async def test_voucher_search_create_and_get(client: FortnoxClient) -> None:
    search = respx.get(f"{API}/vouchers").respond(
        json={
            "MetaInformation": {"@TotalResources": 1, "@TotalPages": 1, "@CurrentPage": 1},
            "Vouchers": [
                {
                    "VoucherSeries": "F",
                    "VoucherNumber": 3,
                    "Year": 2,
                    "TransactionDate": "2026-03-02",
                    "Comments": "zr:r1:812",
                }
            ],
        }
    )
    created = respx.post(f"{API}/vouchers").respond(
        201,
        json={
            "Voucher": {
                "VoucherSeries": "F",
                "VoucherNumber": 4,
                "Year": 2,
                "TransactionDate": "2026-03-02",
                "Description": "Z-rapport 812",
            }
        },
    )
    respx.get(f"{API}/vouchers/F/4").respond(
        json={
            "Voucher": {
                "VoucherSeries": "F",
                "VoucherNumber": 4,
                "Year": 2,
                "TransactionDate": "2026-03-02",
                "VoucherRows": [{"Account": 1910, "Debit": 100}, {"Account": 3001, "Credit": 100}],
            }
        }
    )
    found = await client.vouchers(2, "F", date(2026, 3, 2), date(2026, 3, 2))
    assert found[0].comments == "zr:r1:812"
    assert dict(search.calls.last.request.url.params) == {
        "financialyear": "2",
        "voucherseries": "F",
        "fromdate": "2026-03-02",
        "todate": "2026-03-02",
        "limit": "500",
        "page": "1",
    }
    assert (await client.create_voucher(voucher(), 2)).voucher_number == 4
    sent = json.loads(created.calls.last.request.content)
    assert sent["Voucher"]["VoucherRows"][0] == {"Account": 1910, "Debit": 100.0}
    assert (await client.voucher("F", 4, 2)).accounts() == [1910, 3001]


@respx.mock
async def test_company_me_and_locked_period(client: FortnoxClient) -> None:
    respx.get(f"{API}/companyinformation").respond(
        json={"CompanyInformation": {"CompanyName": "Bistro AB", "DatabaseNumber": 111111}}
    )
    respx.get(f"{API}/me").respond(json={"Me": {"Id": 5, "Name": "Anna", "SysAdmin": True}})
    respx.get(f"{API}/settings/lockedperiod").respond(json={"LockedPeriod": {"EndDate": None}})
    assert (await client.company_information()).database_number == 111111
    assert (await client.me()).name == "Anna"
    assert (await client.locked_period()).end_date is None


@respx.mock
@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.create_voucher(voucher(), 2),
        lambda c: c.create_voucher_series("F", "Kassa", 2),
        lambda c: c.update_voucher_series("F", 2, manual=True),
        lambda c: c.create_account(3740, "Öresutjämning", 2),
        lambda c: c.update_account(3001, 2, active=True),
        lambda c: c._send("DELETE", "/accounts/3001", {}, None),
        lambda c: c._send("PATCH", "/accounts/3001", {}, None),
    ],
)
async def test_read_only_refuses_every_write_before_sending(
    dry_client: FortnoxClient, recorder: Recorder, call: object
) -> None:
    everything = respx.route().respond(200, json={})
    with pytest.raises(ReadOnlyViolation, match="dry run"):
        await call(dry_client)  # type: ignore[operator]
    assert everything.call_count == 0
    assert recorder.records == []


@respx.mock
async def test_read_only_still_reads(dry_client: FortnoxClient) -> None:
    respx.get(f"{API}/me").respond(json={"MeInformation": {"Id": "1"}})
    assert (await dry_client.me()).id == "1"


@respx.mock
async def test_429_backs_off_and_succeeds(client: FortnoxClient, recorder: Recorder) -> None:
    route = respx.get(f"{API}/me").mock(
        side_effect=[
            RATE_LIMITED,
            RATE_LIMITED,
            httpx.Response(200, json={"MeInformation": {"Id": "1"}}),
        ]
    )
    assert (await client.me()).id == "1"
    assert route.call_count == 3
    assert [r.status for r in recorder.api()] == [429, 429, 200]


@respx.mock
async def test_429_gives_up_within_its_bound(client: FortnoxClient) -> None:
    route = respx.get(f"{API}/me").mock(return_value=RATE_LIMITED)
    with pytest.raises(RateLimited):
        await client.me()
    assert route.call_count == 4  # the fixture's policy: 4 attempts


@respx.mock
async def test_post_is_retried_on_429_because_fortnox_did_not_read_it(
    client: FortnoxClient,
) -> None:
    route = respx.post(f"{API}/vouchers").mock(
        side_effect=[RATE_LIMITED, httpx.Response(201, json={"Voucher": voucher().payload()})]
    )
    await client.create_voucher(voucher(), 2)
    assert route.call_count == 2


@respx.mock
async def test_get_and_put_are_retried_on_5xx_and_transport_errors(client: FortnoxClient) -> None:
    me = respx.get(f"{API}/me").mock(
        side_effect=[
            httpx.Response(503),
            httpx.ReadTimeout("slow"),
            httpx.ConnectError("refused"),
            httpx.Response(200, json={"MeInformation": {"Id": "1"}}),
        ]
    )
    put = respx.put(f"{API}/accounts/3001").mock(
        side_effect=[
            httpx.Response(502, text="<html><title>Bad Gateway</title></html>"),
            httpx.Response(200, json={"Account": {"Number": 3001, "Description": "x"}}),
        ]
    )
    await client.me()
    await client.update_account(3001, 2, active=True)
    assert (me.call_count, put.call_count) == (4, 2)


@respx.mock
@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.WriteTimeout("w"),
        httpx.RemoteProtocolError("reset"),
        httpx.Response(500),
        httpx.Response(503),
        httpx.Response(504),
    ],
    ids=["read-timeout", "write-timeout", "reset", "500", "503", "504"],
)
async def test_post_is_never_retried_blind(
    client: FortnoxClient, failure: Exception | httpx.Response
) -> None:
    route = respx.post(f"{API}/vouchers").mock(side_effect=[failure])
    with pytest.raises(WriteOutcomeUnknown, match="look for its result"):
        await client.create_voucher(voucher(), 2)
    assert route.call_count == 1


@respx.mock
async def test_post_that_never_connected_is_retried(client: FortnoxClient) -> None:
    route = respx.post(f"{API}/vouchers").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(201, json={"Voucher": voucher().payload()}),
        ]
    )
    await client.create_voucher(voucher(), 2)
    assert route.call_count == 2


@respx.mock
async def test_transport_errors_give_up_as_transport_errors(client: FortnoxClient) -> None:
    respx.get(f"{API}/me").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(FortnoxTransportError, match="could not be reached"):
        await client.me()


@respx.mock
async def test_non_json_success_is_a_server_error(client: FortnoxClient) -> None:
    respx.get(f"{API}/me").respond(200, text="<html>maintenance</html>")
    with pytest.raises(ServerError, match="not a JSON object"):
        await client.me()


@respx.mock
async def test_every_request_is_recorded_with_tenant_code_and_duration(
    client: FortnoxClient, recorder: Recorder
) -> None:
    respx.get(f"{API}/accounts/1234").respond(
        404,
        json={
            "ErrorInformation": {"error": 1, "message": "Kan inte hitta kontot.", "code": 2000423}
        },
    )
    await client.account(1234, 2)
    (record,) = recorder.api()
    assert (record.method, record.path, record.status, record.tenant, record.code) == (
        "GET",
        "/3/accounts/1234",
        404,
        "111111",
        2000423,
    )
    assert record.duration >= 0


def test_client_repr_names_tenant_and_mode(
    client: FortnoxClient, dry_client: FortnoxClient
) -> None:
    assert repr(client) == "FortnoxClient(tenant='111111', read-write)"
    assert "read-only" in repr(dry_client)


@respx.mock
async def test_tenants_share_a_few_connection_pools_and_each_keeps_its_own(
    connector: FortnoxConnector, store: ConnectionStore
) -> None:
    respx.get(f"{API}/me").mock(return_value=httpx.Response(200, json={"Me": {"Id": "1"}}))
    clients = [
        connector.client(
            store.add(connection(f"rest-{n}", tenant=str(100_000 + n))), read_only=True
        )
        for n in range(64)
    ]
    pools = {id(client._http) for client in clients}
    assert 1 < len(pools) <= POOLS
    again = connector.client(store.get("rest-3"), read_only=True)
    assert again._http is clients[3]._http
    for client in clients:
        assert (await client.me()).id == "1"


@respx.mock
async def test_no_cookie_an_answer_sets_is_kept(
    client: FortnoxClient, connector: FortnoxConnector
) -> None:
    """Fortnox's API needs no cookie, and reading every answer for one cost the event loop."""
    me = {"Me": {"Id": "u1", "Name": "A", "Email": "a@example.se", "SysAdmin": True}}
    route = respx.get(f"{API}/me").mock(
        return_value=httpx.Response(200, json=me, headers={"Set-Cookie": "lb=node-1; Path=/"})
    )
    await client.me()
    await client.me()
    assert route.call_count == 2
    assert "cookie" not in route.calls[1].request.headers
    assert not any(list(pool.http.cookies.jar) for pool in connector._pools)


async def test_a_client_and_its_answers_are_freed_without_the_garbage_collector(
    settings: Settings, store: ConnectionStore
) -> None:
    """Every run makes a client and reads answers: a cycle among them would leave them all to
    the garbage collector (whose pauses grew with the runs in flight)."""
    body = {"FinancialYears": [{"Id": 2, "FromDate": "2026-01-01", "ToDate": "2026-12-31"}]}
    answers = httpx.MockTransport(lambda _request: httpx.Response(200, json=body))
    async with FortnoxConnector(settings, store, transport=answers) as connector:
        stored = store.add(connection())
        with cyclic_garbage() as garbage:
            client = connector.client(stored, read_only=True)
            assert (await client.financial_year_for(date(2026, 3, 2))) is not None
            del client
    left = (FortnoxClient, FortnoxAuth, httpx.Response, httpx.Request)
    assert [type(o).__name__ for o in garbage if isinstance(o, left)] == []
