"""The live world: Fortnox's rate limit (25 per sliding 5 s per client and tenant), years by
date, and its clock."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from remediator.sandbox import Sandbox
from remediator.sandbox.world import World
from tests.sandbox.conftest import TENANT, StateData, basic, bearer, changed, client_for

CLIENT = "remediator-demo"


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    return sandbox.world


def admitted(world: World, count: int, tenant: str = TENANT, client: str = CLIENT) -> int:
    return sum(world.admit(client, tenant) for _ in range(count))


def test_twenty_five_requests_pass_and_the_twenty_sixth_is_refused(world: World) -> None:
    assert admitted(world, 25) == 25
    assert world.admit(CLIENT, TENANT) is False


def test_the_window_slides(world: World) -> None:
    assert admitted(world, 10) == 10
    world.offset += 3
    assert admitted(world, 20) == 15  # 10 + 15 within the last 5 s
    world.offset += 2.01  # the first 10 leave the window, the 15 stay
    assert admitted(world, 20) == 10
    world.offset += 5.01
    assert admitted(world, 30) == 25


def test_refused_requests_do_not_count(world: World) -> None:
    assert admitted(world, 100) == 25
    world.offset += 5.01
    assert admitted(world, 25) == 25


def test_each_tenant_and_each_client_has_its_own_window(world: World) -> None:
    assert admitted(world, 30) == 25
    assert admitted(world, 30, tenant="100002") == 25
    assert admitted(world, 30, client="other-integration") == 25


def test_the_state_sets_or_removes_the_limit() -> None:
    limited = changed(lambda d: d.update(rate_limit={"requests": 3, "window_seconds": 1}))
    assert admitted(limited.world, 10) == 3
    limited.advance(1.01)
    assert admitted(limited.world, 10) == 3
    unlimited = changed(lambda d: d.update(rate_limit=None))
    assert admitted(unlimited.world, 1000) == 1000


async def test_over_http_the_twenty_sixth_request_within_5_s_is_429_without_body(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    http.headers.update(await bearer(http))  # token calls are not rate limited
    statuses = [(await http.get("/3/me")).status_code for _ in range(26)]
    assert statuses == [200] * 25 + [429]
    assert sandbox.requests[-1]["status"] == 429
    assert "Retry-After" not in (await http.get("/3/me")).headers
    sandbox.advance(5.01)
    assert (await http.get("/3/me")).status_code == 200


async def test_every_token_of_the_tenant_shares_the_window(sandbox: Sandbox) -> None:
    async with client_for(sandbox) as http:
        first = await bearer(http)
        service = await http.post(
            "/oauth-v1/token",
            data={"grant_type": "client_credentials"},
            headers={"TenantId": TENANT} | basic(),
        )
        second = {"Authorization": f"Bearer {service.json()['access_token']}"}
        answers = [
            (await http.get("/3/me", headers=first if n % 2 else second)).status_code
            for n in range(26)
        ]
    assert answers.count(200) == 25
    assert answers[-1] == 429


def test_a_year_covers_its_first_and_last_day(world: World) -> None:
    company = world.companies[TENANT]
    assert company.year_for(date(2025, 12, 31)) == 1
    assert company.year_for(date(2026, 1, 1)) == 2
    assert company.year_for(date(2026, 12, 31)) == 2
    assert company.year_for(date(2024, 12, 31)) is None


def test_today_is_the_state_s_date_or_the_real_one() -> None:
    assert Sandbox.from_scenario("healthy").world.today() == date(2026, 3, 3)

    def no_today(data: StateData) -> None:
        data.pop("today")

    assert changed(no_today).world.today() == date.today()  # noqa: DTZ011 - the local date
