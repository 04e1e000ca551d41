"""Keep-alive: every refresh-token connection proven alive before its refresh token can die.

A Fortnox refresh token dies 45 days after it was issued unless it is used (each refresh
issues a new one). A restaurant that exports nothing for weeks (a summer-only place) would come
back to a dead connection. Once a day (``remediator keepalive``, or the service's scheduler):

- a connection whose refresh token is ``keepalive_max_age_days`` old (or of unknown age: one
  imported and never refreshed here) is refreshed, through the token manager, so under the usual
  ownership: the connection's refresh lock, the stored token read again under it, the rotated
  token stored before anyone uses it;
- every other active connection is probed (``keepalive_probe``) with one read
  (``GET /3/financialyears?date=today``): an expired access token is refreshed on the way, and a
  grant Fortnox revoked answers ``invalid_grant`` the same day rather than on the morning of the
  next export.

Idle time and refresh-token age are one measure here: any use of a connection more than an
access token's hour after the last refresh rotates the refresh token, so a connection whose
refresh token is N days old has been idle for about N days.

A connection that cannot be refreshed is marked "needs reconnect" at once (by the token
manager, with its cause) and the Backoffice is told at ``backoffice_url`` with a signed POST
carrying the reconnect link. Service accounts have no refresh token and are not touched;
connections already waiting for a reconnect are not tried again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from remediator.backoffice import BackofficeNotifier
from remediator.errors import UnknownConnectionError
from remediator.fortnox import ConsentRequired, FortnoxConnector, FortnoxError
from remediator.links import ReconnectLinks
from remediator.settings import Settings
from remediator.storage import Connection, ConnectionKind, ConnectionStatus, ConnectionStore
from remediator.timestamps import iso_epoch

log = logging.getLogger(__name__)
DAY = 86_400.0
EVENT_NEEDS_RECONNECT = "connection_needs_reconnect"


class Kept(StrEnum):
    """What keep-alive did with one connection."""

    REFRESHED = "refreshed"  # its refresh token was due and was rotated
    ALIVE = "alive"  # the probe answered: the grant works
    NEEDS_RECONNECT = "needs_reconnect"  # Fortnox refused the grant: a person must reconnect
    FAILED = "failed"  # something else went wrong (network, Fortnox down): tried next time


@dataclass(frozen=True)
class KeptAlive:
    connection_id: str
    result: Kept
    detail: str | None = None


def tally(results: list[KeptAlive]) -> str:
    """``2 alive, 1 refreshed`` (``no connections`` for none)."""
    counts = Counter(r.result.value for r in results)
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no connections"


def refresh_due(connection: Connection, now: float, max_age_days: float) -> bool:
    """Whether the refresh token is old enough to rotate now (unknown age: yes)."""
    if connection.last_refresh_at is None:
        return True
    return now - connection.last_refresh_at >= max_age_days * DAY


def kept_alive(connection: Connection) -> bool:
    """Whether keep-alive looks after the connection at all."""
    return (
        connection.kind is ConnectionKind.REFRESH_TOKEN
        and connection.status is ConnectionStatus.ACTIVE
    )


def needs_reconnect_event(connection: Connection, reconnect_url: str) -> dict[str, Any]:
    """What the Backoffice gets when a connection died: enough to tell the restaurant."""
    restaurant = (
        {"id": connection.restaurant_id, "name": connection.restaurant_name}
        if connection.restaurant_id
        else None
    )
    return {
        "event": EVENT_NEEDS_RECONNECT,
        "connection_id": connection.id,
        "restaurant": restaurant,
        "status_reason": connection.status_reason,
        "status_cause": connection.status_cause.value if connection.status_cause else None,
        "reconnect_url": reconnect_url,
        "at": iso_epoch(time.time()),
    }


class KeepAlive:
    """One keep-alive pass over every connection (see the module's docstring)."""

    def __init__(
        self,
        connector: FortnoxConnector,
        *,
        store: ConnectionStore,
        links: ReconnectLinks,
        notifier: BackofficeNotifier,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connector, self.store, self.links = connector, store, links
        self.notifier, self.settings, self._clock = notifier, settings, clock

    async def run(self) -> list[KeptAlive]:
        everyone = await asyncio.to_thread(self.store.all)
        return [await self.keep(c) for c in everyone if kept_alive(c)]

    async def targets(self) -> list[str]:
        """The ids of the connections keep-alive looks after now."""
        everyone = await asyncio.to_thread(self.store.all)
        return [c.id for c in everyone if kept_alive(c)]

    async def keep_id(self, connection_id: str) -> KeptAlive | None:
        """``keep`` the connection as it is stored now (a pass spread over an hour must not
        act on what it read at the start); ``None`` when it was removed or is no longer
        looked after."""
        try:
            connection = await asyncio.to_thread(self.store.get, connection_id)
        except UnknownConnectionError:
            return None
        return await self.keep(connection) if kept_alive(connection) else None

    async def keep(self, connection: Connection) -> KeptAlive:
        due = refresh_due(connection, self._clock(), self.settings.keepalive_max_age_days)
        try:
            if due:
                await self.connector.tokens(connection.id).refresh_now()
            elif self.settings.keepalive_probe:
                client = self.connector.client(connection, read_only=True)
                await client.financial_year_for(date.fromtimestamp(self._clock()))  # noqa: DTZ012
        except ConsentRequired as err:
            await self._tell_backoffice(connection.id)
            return KeptAlive(connection.id, Kept.NEEDS_RECONNECT, err.error)
        except FortnoxError as err:
            log.warning("keep-alive of %s failed: %s", connection.id, type(err).__name__)
            return KeptAlive(connection.id, Kept.FAILED, type(err).__name__)
        return KeptAlive(connection.id, Kept.REFRESHED if due else Kept.ALIVE)

    async def _tell_backoffice(self, connection_id: str) -> None:
        latest = await asyncio.to_thread(self.store.get, connection_id)
        url = self.links.url(connection_id)
        log.warning("connection %s needs reconnecting; telling the Backoffice", connection_id)
        await self.notifier.send(needs_reconnect_event(latest, url))
