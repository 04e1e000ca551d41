"""Fixtures for the connector's unit tests: respx stands in for Fortnox."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx.mocks

from remediator.fortnox import FortnoxConnector, RequestRecord, RetryPolicy
from remediator.settings import Settings
from remediator.storage import ConnectionStore
from tests.conftest import OAUTH

# The connector's transport is its own (``_network``), not httpcore's pool, which respx patches
# by default: respx stands in at httpx's client instead, where it picks the transport.
respx.mocks.DEFAULT_MOCKER = respx.mocks.HTTPXMocker.name


def jwt(
    tenant: str = "111111", scopes: str = "bookkeeping companyinformation", **extra: Any
) -> str:
    """An unsigned JWT shaped like Fortnox's access tokens."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {
        "tenantId": int(tenant),
        "userId": "u1",
        "clientId": "client-1",
        "scopes": scopes.split(),
        "exp": int(time.time()) + 3600,
        "iat": int(time.time()),
    }
    return f"{part({'alg': 'RS256'})}.{part(claims | extra)}.signature"


def token_response(access: str, refresh: str | None = "refresh-token-2") -> httpx.Response:
    body: dict[str, Any] = {
        "access_token": access,
        "scope": "bookkeeping companyinformation",
        "expires_in": 3600,
        "token_type": "bearer",
    }
    if refresh:
        body["refresh_token"] = refresh
    return httpx.Response(200, json=body)


def invalid_grant() -> httpx.Response:
    """Fortnox's answer to a dead refresh token, with its wrong Content-Type."""
    return httpx.Response(
        400,
        content=b'{"error":"invalid_grant","error_description":"Invalid refresh token"}',
        headers={"Content-Type": "text/html"},
    )


TOKEN_URL = f"{OAUTH}/token"


class Recorder:
    """Collects the connector's request records."""

    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def __call__(self, record: RequestRecord) -> None:
        self.records.append(record)

    def api(self) -> list[RequestRecord]:
        return [r for r in self.records if r.kind == "api"]

    def token(self) -> list[RequestRecord]:
        return [r for r in self.records if r.kind == "token"]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def connector(
    settings: Settings, store: ConnectionStore, recorder: Recorder
) -> AsyncIterator[FortnoxConnector]:
    fast = RetryPolicy(attempts=4, max_seconds=5, initial_wait=0.001, max_wait=0.01, jitter=0.001)
    async with FortnoxConnector(settings, store, hook=recorder, retry=fast) as opened:
        yield opened
