"""Callbacks: a run's report POSTed to the failure's ``callback_url``, signed like the intake.

Body: ``{"run_id", "event_id", "state", "outcome", "report"}``; header
``X-Remediator-Signature: t=…,v1=…`` with the callback secret. A 2xx answer is delivered;
anything else is retried with a doubling wait, up to ``callback_attempts`` in all. The delivery
state (``pending``, ``delivered``, ``failed``), attempts and last error are stored on the run.

Several instances share the work: each takes due callbacks from the database before sending
them (``QueueStore.claim_callbacks``), so one callback is sent by one instance. A process that
dies between sending and storing the result leaves it to be sent again after
``HOLD_MARGIN_SECONDS`` past the timeout: delivery is at least once, exactly once unless a
process dies mid-send. Receivers can tell a repeat by ``run_id`` and ``state``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import httpx

from remediator import signing
from remediator.service.logs import ids
from remediator.service.process import backoff
from remediator.service.waiting import woken
from remediator.settings import Settings
from remediator.storage.queue import QueuedRun, QueueStore
from remediator.tls import verifying

log = logging.getLogger(__name__)
# How long past the request timeout a taken callback stays with the instance that took it.
HOLD_MARGIN_SECONDS = 30.0


def payload(run: QueuedRun) -> bytes:
    report = json.loads(run.report) if run.report else None
    body = {
        "run_id": run.id,
        "event_id": run.event_id,
        "state": run.state.value,
        "state_reason": run.state_reason,
        "outcome": run.outcome,
        "report": report,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class Deliverer:
    """Delivers due callbacks from the stored queue, in the background."""

    def __init__(
        self,
        queue: QueueStore,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.queue, self.settings = queue, settings
        secret = settings.callback_secret.get_secret_value()
        self._secret = secret or settings.intake_secret.get_secret_value()
        self._http = httpx.AsyncClient(
            timeout=settings.callback_timeout,
            transport=transport,
            verify=verifying(),
            follow_redirects=False,
        )
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="remediator-callbacks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._http.aclose()

    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        self._wake.set()

    async def deliver(self, run: QueuedRun) -> None:
        """One attempt for one run, and its stored result."""
        attempts = (run.callback_attempts or 0) + 1
        error = await self._post(run)
        if error is None:
            state, next_at = "delivered", None
        elif attempts >= self.settings.callback_attempts:
            state, next_at = "failed", None
        else:
            state = "pending"
            next_at = time.time() + backoff(
                attempts - 1,
                self.settings.callback_retry_seconds,
                self.settings.callback_retry_max_seconds,
            )
        await asyncio.to_thread(
            self.queue.callback_result,
            run.id,
            state=state,
            attempts=attempts,
            next_at=next_at,
            error=error,
        )
        fields = ids(run_id=run.id, event_id=run.event_id, connection_id=run.connection_id)
        log.info("callback %s (attempt %d)", state, attempts, extra=fields)

    async def _post(self, run: QueuedRun) -> str | None:
        body = payload(run)
        headers = {
            signing.HEADER: signing.sign(body, self._secret),
            "Content-Type": "application/json",
        }
        try:
            response = await self._http.post(run.callback_url or "", content=body, headers=headers)
        except httpx.HTTPError as err:
            return f"{type(err).__name__}"
        if response.is_success:
            return None
        return f"HTTP {response.status_code}"

    async def _loop(self) -> None:
        while True:
            try:
                hold = self.settings.callback_timeout + HOLD_MARGIN_SECONDS
                due = await asyncio.to_thread(self.queue.claim_callbacks, hold)
                await asyncio.gather(*(self.deliver(run) for run in due))
                if not due:
                    await woken(self._wake, self.settings.worker_poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("callback delivery error; continuing")
                await asyncio.sleep(self.settings.worker_poll_seconds)
