"""The token manager: one owner of each connection's single-use refresh token.

Refreshes happen under a per-connection lock that holds across tasks (an asyncio lock) and
across processes (a lease on the connection's row in the database). After taking the lock the
stored token is read again; a rotated refresh token is stored before the new access token is
used; and ``invalid_grant`` is only believed after storage shows nobody refreshed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from pydantic import SecretStr

from remediator.fortnox._exceptions import ConsentRequired, TokenError
from remediator.fortnox._oauth import OAuthClient
from remediator.storage.connections import (
    Connection,
    ConnectionKind,
    ConnectionStatus,
    ConnectionStore,
    TokenSet,
)

log = logging.getLogger(__name__)

# How old a read of the connection may be for handing out its access token without reading
# the database again (writes through the same store are seen at once, another process's
# within this; Fortnox refusing a token always leads to a fresh read).
RECENT_SECONDS = 2.0


class RefreshLocks:
    """In-process locks, one per connection; share one instance per process."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def for_connection(self, connection_id: str) -> asyncio.Lock:
        return self._locks.setdefault(connection_id, asyncio.Lock())


class TokenManager:
    """Hands out valid access tokens for one connection, refreshing when needed."""

    def __init__(
        self,
        store: ConnectionStore,
        oauth: OAuthClient,
        connection_id: str,
        *,
        locks: RefreshLocks,
        margin_seconds: float = 300,
        lease_seconds: float = 60,
        recent_seconds: float = RECENT_SECONDS,
        clock: Callable[[], float] = time.time,
        on_refresh: Callable[[str], None] | None = None,
    ) -> None:
        self.connection_id = connection_id
        self._store, self._oauth, self._locks = store, oauth, locks
        self._margin, self._lease, self._clock = margin_seconds, lease_seconds, clock
        self._recent = recent_seconds
        self._on_refresh = on_refresh

    def __repr__(self) -> str:
        return f"TokenManager(connection_id={self.connection_id!r})"

    async def connection(self) -> Connection:
        return await asyncio.to_thread(self._store.get, self.connection_id)

    async def access_token(self) -> SecretStr:
        """A token valid for more than the margin, refreshed under the lock if need be.

        The fast path takes the connection as the store read it at most ``recent_seconds``
        ago (no database read, no thread: every API request passes here). Whatever it hands
        out is checked again by Fortnox: a rejected token goes to ``refresh_after_rejection``,
        which reads storage under the lock, as does every refresh decision.
        """
        recent = self._store.recent(self.connection_id, self._recent)
        if (
            recent is not None
            and recent.status is ConnectionStatus.ACTIVE
            and recent.access_valid_for(self._clock()) > self._margin
        ):
            return _token(recent)
        current = await self._usable(await self.connection())
        if current.access_valid_for(self._clock()) > self._margin:
            return _token(current)
        async with self._locked():
            current = await self._usable(await self.connection())
            if current.access_valid_for(self._clock()) > self._margin:
                return _token(current)
            return _token(await self._refresh(current))

    async def refresh_after_rejection(self, rejected: SecretStr) -> SecretStr:
        """Fortnox refused ``rejected``: use a newer stored token, or refresh once."""
        async with self._locked():
            current = await self._usable(await self.connection())
            newer = current.access_token is not None and current.access_token != rejected
            if newer and current.access_valid_for(self._clock()) > 0:
                return _token(current)
            return _token(await self._refresh(current))

    async def refresh_now(self) -> Connection:
        """Refresh whatever the stored token's age (the connection-invalidated playbook)."""
        async with self._locked():
            return await self._refresh(await self.connection())

    async def _usable(self, current: Connection) -> Connection:
        if current.status is ConnectionStatus.NEEDS_RECONNECT:
            raise ConsentRequired(
                f"connection {self.connection_id!r} needs to be reconnected "
                f"({current.status_reason or 'marked earlier'})",
                error="needs_reconnect",
            )
        return current

    async def _refresh(self, current: Connection) -> Connection:
        if current.kind is ConnectionKind.SERVICE_ACCOUNT:
            return await self._client_credentials(current)
        if current.refresh_token is None:
            await self._mark_dead("no refresh token is stored")
            raise ConsentRequired(
                f"connection {self.connection_id!r} has no refresh token: connect it first",
                error="no_grant",
            )
        try:
            tokens = await self._oauth.refresh(current.refresh_token)
        except ConsentRequired:
            return await self._after_invalid_grant(current)
        return await self._save(tokens)

    async def _client_credentials(self, current: Connection) -> Connection:
        if not current.tenant_id:
            raise TokenError(
                f"service-account connection {self.connection_id!r} has no tenant id",
                error="no_tenant",
            )
        try:
            tokens = await self._oauth.client_credentials(current.tenant_id)
        except ConsentRequired:
            await self._mark_dead("Fortnox refused the service account (invalid_grant)")
            raise
        return await self._save(tokens)

    async def _after_invalid_grant(self, sent: Connection) -> Connection:
        latest = await self.connection()
        if latest.refresh_token is not None and latest.refresh_token != sent.refresh_token:
            log.info("connection %s was refreshed elsewhere meanwhile", self.connection_id)
            return latest
        await self._mark_dead("Fortnox answered invalid_grant to the stored refresh token")
        raise ConsentRequired(
            f"Fortnox invalidated connection {self.connection_id!r}: it must be re-authorized",
            error="invalid_grant",
        )

    async def _save(self, tokens: TokenSet) -> Connection:
        # Persist the rotated refresh token before anyone uses the new access token.
        saved = await asyncio.to_thread(self._store.save_tokens, self.connection_id, tokens)
        if self._on_refresh is not None:
            self._on_refresh(self.connection_id)
        log.info("refreshed the tokens of connection %s", self.connection_id)
        return saved

    async def _mark_dead(self, reason: str) -> None:
        await asyncio.to_thread(self._store.mark_needs_reconnect, self.connection_id, reason)
        log.warning("connection %s needs reconnecting: %s", self.connection_id, reason)

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        async with self._locks.for_connection(self.connection_id):
            await self._take_lease()
            try:
                yield
            finally:
                await asyncio.to_thread(self._store.unlock, self.connection_id, self._locks.owner)

    async def _take_lease(self) -> None:
        deadline = time.monotonic() + self._lease + 5
        owner = self._locks.owner
        while not await asyncio.to_thread(
            self._store.try_lock, self.connection_id, owner, self._lease
        ):
            if time.monotonic() > deadline:
                raise TokenError(
                    f"could not take the refresh lock of connection {self.connection_id!r}",
                    error="lock_timeout",
                )
            await asyncio.sleep(0.05)


def _token(connection: Connection) -> SecretStr:
    if connection.access_token is None:
        raise ConsentRequired(f"connection {connection.id!r} has no access token", error="no_grant")
    return connection.access_token
