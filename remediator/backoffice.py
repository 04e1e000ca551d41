"""Events for the Backoffice: signed POSTs to ``backoffice_url`` that tell it, before any
export fails, what happened to a restaurant's connection or books (keep-alive's
``connection_needs_reconnect``, the check ahead's ``fixed_ahead`` and ``preflight_finding``)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx

from remediator import signing
from remediator.settings import Settings
from remediator.tls import verifying

log = logging.getLogger(__name__)


class BackofficeNotifier:
    """Signed POSTs of connection events to the Backoffice (``backoffice_url``), signed as the
    run callbacks are (``X-Remediator-Signature``), retried with a doubling wait."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        wait_seconds: float = 1.0,
    ) -> None:
        self.url = settings.backoffice_url
        secret = settings.callback_secret.get_secret_value()
        self._secret = secret or settings.intake_secret.get_secret_value()
        self._attempts = settings.callback_attempts
        self._wait = wait_seconds
        self._http = httpx.AsyncClient(
            timeout=settings.callback_timeout,
            transport=transport,
            verify=verifying(),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"BackofficeNotifier(url={self.url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, event: dict[str, Any]) -> bool:
        """POST ``event``; ``False`` when there is no URL or every attempt failed."""
        if not self.url:
            log.warning("no backoffice_url: event %s not sent", event.get("event"))
            return False
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        for attempt in range(self._attempts):
            if await self._post(body):
                return True
            await asyncio.sleep(min(self._wait * 2**attempt, 60.0))
        log.error("event %s could not be delivered to the Backoffice", event.get("event"))
        return False

    async def _post(self, body: bytes) -> bool:
        headers = {
            signing.HEADER: signing.sign(body, self._secret),
            "Content-Type": "application/json",
        }
        try:
            answer = await self._http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as err:
            log.warning("Backoffice event not delivered: %s", type(err).__name__)
            return False
        return answer.is_success
