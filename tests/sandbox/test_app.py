"""The app around the world: injected faults, the request log, and the admin endpoints under
/_sandbox/ (and their absence when admin is off)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from starlette.types import Message

from remediator.sandbox import Sandbox
from tests.sandbox.conftest import (
    REFRESH,
    TENANT,
    bearer,
    changed,
    client_for,
    error_of,
    refresh,
    sandbox_from,
    scenario_data,
    z_report,
)

SYSTEM_EXCEPTION = (500, 1000003, "System exception")


async def test_latency_is_added_to_every_answer(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.set_faults(latency=0.2)
    started = time.monotonic()
    assert (await api.get("/3/me")).status_code == 200
    assert time.monotonic() - started >= 0.2


async def test_setting_the_faults_again_lets_a_request_held_by_latency_go(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    sandbox.set_faults(latency=3600)
    before = len(sandbox.requests)
    held = asyncio.create_task(api.get("/3/me"))
    await asyncio.sleep(0.1)  # the in-process request runs up to its latency's wait meanwhile
    assert not held.done()
    assert len(sandbox.requests) == before  # nothing answered yet
    sandbox.set_faults()
    answer = await asyncio.wait_for(held, 60)  # not the hour it was held for
    assert answer.status_code == 200
    assert [r["path"] for r in sandbox.requests[before:]] == ["/3/me"]


async def test_a_share_of_5xx_hits_only_its_path(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    sandbox.set_faults(error_rate={"/3/accounts": 1.0})
    assert error_of(await api.get("/3/accounts/1910")) == SYSTEM_EXCEPTION
    assert (await api.get("/3/me")).status_code == 200
    assert sandbox.requests[-2]["fault"] == "injected"


async def test_the_longest_matching_prefix_decides(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    sandbox.set_faults(error_rate={"/3/": 1.0, "/3/me": 0.0})
    assert (await api.get("/3/me")).status_code == 200
    assert (await api.get("/3/companyinformation")).status_code == 500


async def test_a_partial_share_fails_about_that_share() -> None:
    sandbox = changed(lambda d: d.update(rate_limit=None))
    sandbox.set_faults(error_rate={"/3/me": 0.5})
    async with client_for(sandbox) as http:
        http.headers.update(await bearer(http))
        statuses = [(await http.get("/3/me")).status_code for _ in range(200)]
    assert set(statuses) == {200, 500}
    assert 60 <= statuses.count(500) <= 140  # p of leaving this band is below one in 10^8


async def test_a_429_storm_answers_429_until_it_ends(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    sandbox.set_faults(storm_429=True)
    assert [(await api.get("/3/me")).status_code for _ in range(3)] == [429] * 3
    sandbox.set_faults()
    assert (await api.get("/3/me")).status_code == 200


async def test_a_503_burst_answers_an_html_page_for_its_seconds(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    sandbox.set_faults(burst_503_seconds=30)
    answer = await api.get("/3/me")
    assert answer.status_code == 503
    assert "<title>503" in answer.text
    sandbox.advance(31)
    assert (await api.get("/3/me")).status_code == 200


async def test_a_dropped_connection_is_what_httpx_raises_over_a_network(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    sandbox.set_faults(drop_rate={"/3/vouchers": 1.0})
    with pytest.raises(httpx.RemoteProtocolError):
        await api.post("/3/vouchers", json={"Voucher": z_report(sandbox)})
    assert sandbox.requests[-1]["fault"] == "dropped"
    assert sandbox.requests[-1]["status"] is None
    assert sandbox.world.companies[TENANT].vouchers[2] == []  # never applied
    assert (await api.get("/3/me")).status_code == 200


async def test_a_lost_answer_stores_the_voucher_but_times_out(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    sandbox.set_faults(timeout_after_write=1)
    with pytest.raises(httpx.ReadTimeout):
        await api.post("/3/vouchers", json={"Voucher": z_report(sandbox)})
    assert sandbox.requests[-1]["fault"] == "answer_lost"
    listed = (await api.get("/3/vouchers", params={"voucherseries": "F"})).json()
    assert [v["VoucherNumber"] for v in listed["Vouchers"]] == [61]
    again = await api.post("/3/vouchers", json={"Voucher": z_report(sandbox)})
    assert again.json()["Voucher"]["VoucherNumber"] == 62  # only the next N are lost


async def test_faults_in_the_state_file_apply_from_load() -> None:
    data = scenario_data()
    data["faults"] = {"error_rate": {"/3/companyinformation": 1}, "burst_503_seconds": 0}
    async with client_for(sandbox_from(data)) as http:
        http.headers.update(await bearer(http))
        assert error_of(await http.get("/3/companyinformation")) == SYSTEM_EXCEPTION


async def test_faults_come_after_authentication(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    sandbox.set_faults(storm_429=True)
    assert (await http.get("/3/me")).status_code == 401
    assert (await refresh(http)).status_code == 200  # OAuth is not faulted


async def test_the_request_log_has_every_field(sandbox: Sandbox, api: httpx.AsyncClient) -> None:
    await api.get("/3/accounts/1111", params={"financialyear": 2})
    token_call, entry = sandbox.requests
    assert token_call["grant_type"] == "refresh_token"
    assert set(entry) == {"time", "method", "path", "query", "status", "tenant", "code"}
    assert entry["method"] == "GET"
    assert entry["path"] == "/3/accounts/1111"
    assert entry["query"] == "financialyear=2"
    assert (entry["status"], entry["tenant"], entry["code"]) == (404, TENANT, 2000423)
    assert abs(entry["time"] - time.time()) < 60


def test_the_request_log_keeps_the_newest_entries() -> None:
    sandbox = changed(lambda d: d.update(request_log_size=2))
    assert sandbox.server.log.maxlen == 2


async def test_writes_are_the_requests_that_could_change_books(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    await api.get("/3/me")
    await api.put("/3/accounts/3001", json={"Account": {"Active": False}})
    assert [(w["method"], w["path"]) for w in sandbox.writes()] == [("PUT", "/3/accounts/3001")]


# -- admin endpoints -------------------------------------------------------------------


async def test_the_state_dump_shows_books_grants_faults_and_clock(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    await api.put("/3/accounts/3003", json={"Account": {"Active": False}})
    await api.post("/3/vouchers", json={"Voucher": z_report(sandbox) | {"VoucherSeries": "A"}})
    dump = (await api.get("/_sandbox/state")).json()
    books = dump["tenants"][TENANT]
    assert books["inactive_accounts"] == {"1": [], "2": [3003]}
    assert books["series"]["2"]["A"]["next_number"] == 2
    assert [v["VoucherNumber"] for v in books["vouchers"]["2"]] == [1]
    assert books["account_count"]["2"] == books["account_count"]["1"] > 30
    assert dump["grants"] == [
        {
            "name": "bistro",
            "tenant_id": TENANT,
            "user_id": "u1",
            "client_id": "remediator-demo",
            "revoked": False,
            "scopes": ["bookkeeping", "companyinformation", "settings", "profile"],
        }
    ]
    assert dump["faults"]["storm_429"] is False
    assert dump["clock_offset"] == 0


async def test_the_request_log_endpoint(api: httpx.AsyncClient) -> None:
    await api.get("/3/me")
    log = (await api.get("/_sandbox/requests")).json()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/oauth-v1/token", 200),
        ("GET", "/3/me", 200),
    ]


async def test_reset_goes_back_to_the_loaded_state(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    await api.post("/3/vouchers", json={"Voucher": z_report(sandbox)})
    await api.put("/_sandbox/faults", json={"storm_429": True})
    await api.post("/_sandbox/grants/bistro/revoke")
    await api.post("/_sandbox/clock", json={"advance": 100})
    assert (await api.post("/_sandbox/reset")).json() == {"reset": True}
    dump = (await api.get("/_sandbox/state")).json()
    assert dump["tenants"][TENANT]["vouchers"]["2"] == []
    assert dump["tenants"][TENANT]["series"]["2"]["F"]["next_number"] == 61
    assert dump["grants"][0]["revoked"] is False
    assert dump["faults"]["storm_429"] is False
    assert dump["clock_offset"] == 0
    assert (await api.get("/_sandbox/requests")).json() == []
    assert (await refresh(api, REFRESH)).status_code == 200  # the loaded refresh token again


async def test_faults_are_set_and_read_at_run_time(api: httpx.AsyncClient) -> None:
    answer = await api.put("/_sandbox/faults", json={"error_rate": {"/3/me": 1}})
    assert answer.json()["error_rate"] == {"/3/me": 1.0}
    assert (await api.get("/_sandbox/faults")).json()["error_rate"] == {"/3/me": 1.0}
    assert (await api.get("/3/me")).status_code == 500
    await api.put("/_sandbox/faults", json={})
    assert (await api.get("/3/me")).status_code == 200


@pytest.mark.parametrize(
    "body", [{"storm": True}, {"error_rate": {"/3/": 2}}, {"latency": -1}, "not json"]
)
async def test_bad_faults_are_refused_with_what_is_wrong(
    api: httpx.AsyncClient, body: object
) -> None:
    content = body if isinstance(body, str) else None
    answer = await (
        api.put("/_sandbox/faults", content=content)
        if content
        else api.put("/_sandbox/faults", json=body)
    )
    assert answer.status_code == 422
    assert answer.json()["error"]


async def test_revoking_a_grant_is_fortnox_invalidating_the_connection(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.post("/_sandbox/grants/bistro/revoke")).json() == {"revoked": "bistro"}
    assert (await api.get("/3/me")).json() == {"message": "unauthorized"}
    assert (await refresh(api, REFRESH)).json()["error"] == "invalid_grant"
    assert (await api.post("/_sandbox/grants/nobody/revoke")).status_code == 404


async def test_the_clock_moves_forward_only(api: httpx.AsyncClient) -> None:
    assert (await api.post("/_sandbox/clock", json={"advance": 3601})).json() == {"offset": 3601}
    assert (await api.get("/3/me")).status_code == 401  # the hour-old token expired
    assert (await api.post("/_sandbox/clock", json={"advance": -5})).status_code == 422
    assert (await api.post("/_sandbox/clock", json=[1])).status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_sandbox/state"),
        ("GET", "/_sandbox/requests"),
        ("POST", "/_sandbox/reset"),
        ("GET", "/_sandbox/faults"),
        ("PUT", "/_sandbox/faults"),
        ("POST", "/_sandbox/grants/bistro/revoke"),
        ("POST", "/_sandbox/clock"),
    ],
)
async def test_admin_endpoints_are_absent_when_admin_is_off(method: str, path: str) -> None:
    sandbox = sandbox_from(scenario_data(), admin=False)
    async with client_for(sandbox) as http:
        http.headers.update(await bearer(http))
        assert (await http.request(method, path, json={})).status_code == 404
        assert (await http.get("/3/me")).status_code == 200
    assert sandbox.world.grants["bistro"].revoked is False


async def test_reset_keeps_the_world_object_so_bound_clocks_follow(sandbox: Sandbox) -> None:
    clock = sandbox.world.now
    sandbox.advance(1000)
    sandbox.reset()
    assert abs(clock() - time.time()) < 60
    sandbox.advance(500)
    assert clock() - time.time() > 400


async def test_a_client_gone_before_its_body_arrived_is_logged_and_nothing_is_done(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    (name, token), *_ = (await bearer(http)).items()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/3/vouchers",
        "raw_path": b"/3/vouchers",
        "query_string": b"financialyear=2",
        "headers": [(name.lower().encode(), token.encode()), (b"content-length", b"500")],
    }

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        del message  # nobody is there to read it

    await sandbox.app(scope, receive, send)  # no exception: Fortnox would just drop it
    assert (sandbox.requests[-1]["status"], sandbox.requests[-1]["fault"]) == (
        None,
        "client_disconnected",
    )
    assert sandbox.world.companies[TENANT].vouchers[2] == []
