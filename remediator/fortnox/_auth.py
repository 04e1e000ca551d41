"""Bearer auth for ``/3/``: pace, send, record, and on an expired token refresh once and resend."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Protocol

import httpx
from pydantic import SecretStr

from remediator.fortnox._ratelimit import Slot
from remediator.fortnox._responses import is_expired_token


class TokenSource(Protocol):
    async def access_token(self) -> SecretStr: ...

    async def refresh_after_rejection(self, rejected: SecretStr) -> SecretStr: ...


Recorder = Callable[[httpx.Request, httpx.Response, float], None]


class FortnoxAuth(httpx.Auth):
    """The one place every API request passes: rate limit, bearer token, record, one resend.

    A 401 ``{"message": "unauthorized"}`` means the access token expired or was replaced: the
    token is refreshed (or a newer stored one taken) once and the request sent once more. A
    second 401 is returned to the caller as it is, so nothing loops.
    """

    def __init__(
        self, tokens: TokenSource, pace: Callable[[], Awaitable[Slot]], record: Recorder
    ) -> None:
        self._tokens, self._pace, self._record = tokens, pace, record

    def __repr__(self) -> str:
        return "FortnoxAuth(<token hidden>)"

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._tokens.access_token()
        for attempt in range(2):
            if attempt:
                token = await self._tokens.refresh_after_rejection(token)
            request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
            slot = await self._pace()
            started = time.monotonic()
            try:
                response = yield request
                await response.aread()
            finally:
                slot.release()
            self._record(request, response, time.monotonic() - started)
            if not is_expired_token(response):
                return
