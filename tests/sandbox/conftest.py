"""Fixtures for the sandbox's tests: a sandbox from a scenario (optionally changed), an HTTP
client on its in-process transport whose every answer is checked against Fortnox's schemas."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import AsyncIterator, Callable
from functools import cache
from typing import Any

import httpx
import pytest

from remediator.sandbox import Sandbox
from remediator.sandbox.state import SCENARIOS, parse_state
from tests.sandbox.openapi import CheckedTransport

CLIENT_ID, CLIENT_SECRET = "remediator-demo", "demo-secret"
REFRESH = "rt-healthy-1"
TENANT = "100001"

StateData = dict[str, Any]


@cache
def _scenario_text(name: str) -> str:
    return (SCENARIOS / f"{name}.json").read_text(encoding="utf-8")


def scenario_data(name: str = "healthy") -> StateData:
    """A shipped scenario as plain JSON data, to change before loading."""
    return copy.deepcopy(json.loads(_scenario_text(name)))


def sandbox_from(data: StateData, **options: Any) -> Sandbox:
    return Sandbox(parse_state(json.dumps(data), "test state"), **options)


def changed(change: Callable[[StateData], object], name: str = "healthy") -> Sandbox:
    """The scenario with ``change`` applied to its data (a function that edits it in place)."""
    data = scenario_data(name)
    change(data)
    return sandbox_from(data)


def tenant(data: StateData) -> StateData:
    """The (only) tenant of a scenario's data."""
    found: StateData = data["tenants"][0]
    return found


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def claims(access_token: str) -> dict[str, Any]:
    payload = access_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


def client_for(sandbox: Sandbox) -> httpx.AsyncClient:
    transport = CheckedTransport(sandbox.transport())
    return httpx.AsyncClient(transport=transport, base_url="http://sandbox")


async def refresh(http: httpx.AsyncClient, refresh_token: str = REFRESH) -> httpx.Response:
    return await http.post(
        "/oauth-v1/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers=basic(),
    )


async def bearer(http: httpx.AsyncClient, refresh_token: str = REFRESH) -> dict[str, str]:
    """Headers with a fresh access token of the grant holding ``refresh_token``."""
    answer = await refresh(http, refresh_token)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox.from_scenario("healthy")


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(sandbox) as client:
        yield client


@pytest.fixture
async def api(http: httpx.AsyncClient) -> httpx.AsyncClient:
    """The same client, authenticated with the healthy grant's access token."""
    http.headers.update(await bearer(http))
    return http


def z_report(sandbox: Sandbox) -> dict[str, Any]:
    """The scenario's Z-report voucher, as the Backoffice posts it."""
    voucher: dict[str, Any] = copy.deepcopy(sandbox.example("z_report")["voucher"])
    return voucher


def error_of(response: httpx.Response) -> tuple[int, int, str]:
    """Status, Fortnox code and message of an ErrorInformation answer (its key case, which
    differs by status as in Fortnox, is checked by ``CheckedTransport``)."""
    info = {key.lower(): value for key, value in response.json()["ErrorInformation"].items()}
    return response.status_code, info["code"], info["message"]
