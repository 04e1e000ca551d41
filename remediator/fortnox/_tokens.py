"""The token manager: one owner of each connection's single-use refresh token.

A refresh happens under the connection's refresh lock: a lease on its row in the database
(an owner and an expiry, taken by a conditional update), so it holds across tasks, processes
and machines that share the database; the tasks of one process queue on an asyncio lock
first. Under the lock:

1. the stored connection is read again (someone may have refreshed meanwhile): in the same
   statement that takes the lock;
2. "refresh in progress" is marked in the database before Fortnox is called;
3. the rotated tokens are stored before the new access token is used, with retries, and only
   while this process still holds the lock (the mark is cleared and the lock let go with
   them);
4. a token answer without a refresh token is refused: nothing is stored and the connection
   keeps its state (storing it would leave no refresh token, or an old one already used);
5. ``invalid_grant`` is believed only once storage shows nobody refreshed meanwhile. When a
   refresh had been left in progress (a crash or a store that never succeeded between Fortnox
   rotating the token and it being stored), the connection is marked as lost by the
   remediator, not as invalidated by Fortnox: both need a reconnect, but only one is ours.
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
from dataclasses import dataclass

from pydantic import SecretStr
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from remediator.fortnox._exceptions import ConsentRequired, TokenError
from remediator.fortnox._grants import (
    ConnectionKind,
    ConnectionStatus,
    ReconnectCause,
    StoredConnection,
    TokenSet,
    TokenStore,
)
from remediator.fortnox._oauth import OAuthClient

log = logging.getLogger(__name__)

# How old a read of the connection may be for handing out its access token without reading
# the database again (writes through the same store are seen at once, another process's
# within this; Fortnox refusing a token always leads to a fresh read).
RECENT_SECONDS = 2.0
NOT_AUTHORIZED = "not_authorized"  # ConsentRequired.error: the connection never had a token
SERVER_ERROR = 500


class RefreshLocks:
    """In-process locks, one per connection, and this process's name as the database lock's
    owner; share one instance per process."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def for_connection(self, connection_id: str) -> asyncio.Lock:
        return self._locks.setdefault(connection_id, asyncio.Lock())


@dataclass(frozen=True)
class StoreRetry:
    """How hard a rotated token is pushed into storage before it is given up as lost."""

    attempts: int = 6
    initial_wait: float = 0.05
    max_wait: float = 2.0

    def retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.initial_wait, max=self.max_wait),
            retry=retry_if_exception(lambda err: isinstance(err, Exception)),
            reraise=True,
        )


class TokenManager:
    """Hands out valid access tokens for one connection, refreshing when needed."""

    def __init__(
        self,
        store: TokenStore,
        oauth: OAuthClient,
        connection_id: str,
        *,
        locks: RefreshLocks,
        margin_seconds: float = 300,
        lease_seconds: float = 60,
        recent_seconds: float = RECENT_SECONDS,
        clock: Callable[[], float] = time.time,
        on_refresh: Callable[[str], None] | None = None,
        store_retry: StoreRetry | None = None,
    ) -> None:
        self.connection_id = connection_id
        self._store, self._oauth, self._locks = store, oauth, locks
        self._margin, self._lease, self._clock = margin_seconds, lease_seconds, clock
        self._recent = recent_seconds
        self._on_refresh = on_refresh
        self._store_retry = store_retry or StoreRetry()

    def __repr__(self) -> str:
        return f"TokenManager(connection_id={self.connection_id!r})"

    async def connection(self) -> StoredConnection:
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
        if recent is None or recent.status is not ConnectionStatus.ACTIVE:
            current = _usable(await self.connection())
            if current.access_valid_for(self._clock()) > self._margin:
                return _token(current)
        async with self._locked() as held:
            current = _usable(held.connection)
            if current.access_valid_for(self._clock()) > self._margin:
                return _token(current)
            return _token(await self._refresh(held, current))

    async def refresh_after_rejection(self, rejected: SecretStr) -> SecretStr:
        """Fortnox refused ``rejected``: use a newer stored token, or refresh once."""
        async with self._locked() as held:
            current = _usable(held.connection)
            newer = current.access_token is not None and current.access_token != rejected
            if newer and current.access_valid_for(self._clock()) > 0:
                return _token(current)
            return _token(await self._refresh(held, current))

    async def refresh_now(self, *, revive: bool = False) -> StoredConnection:
        """Refresh whatever the stored token's age: the one proof that the grant is alive
        (a working access token proves nothing about its refresh token). A connection already
        marked for reconnecting is not tried again (``ConsentRequired`` with the stored cause),
        unless ``revive``: a person asked for a first token (a service account)."""
        async with self._locked() as held:
            current = held.connection
            return await self._refresh(held, current if revive else _usable(current))

    async def _refresh(self, held: _Held, current: StoredConnection) -> StoredConnection:
        _authorized(current)
        if current.kind is ConnectionKind.SERVICE_ACCOUNT:
            return await self._client_credentials(held, current)
        if current.refresh_token is None:
            await self._mark_dead("no refresh token is stored", ReconnectCause.NO_GRANT)
            raise ConsentRequired(
                f"connection {self.connection_id!r} has no refresh token: connect it first",
                error="no_grant",
                cause=ReconnectCause.NO_GRANT,
            )
        left_in_progress = current.refresh_started_at is not None
        await self._mark_refreshing()
        try:
            tokens = await self._oauth.refresh(current.refresh_token)
        except ConsentRequired:
            return await self._after_invalid_grant(current, left_in_progress=left_in_progress)
        except TokenError as err:
            if (
                err.status is not None and err.status < SERVER_ERROR
            ):  # answered: nothing was rotated
                await asyncio.to_thread(self._store.end_refresh, self.connection_id, self._owner)
            raise
        if tokens.refresh_token is None:
            await asyncio.to_thread(self._store.end_refresh, self.connection_id, self._owner)
            log.error(
                "Fortnox answered a refresh of %s without a refresh token", self.connection_id
            )
            raise TokenError(
                "Fortnox answered the refresh without a new refresh token: the answer was "
                f"refused and connection {self.connection_id!r} kept as it was",
                error="refresh_token_missing",
            )
        return await self._store_rotated(held, tokens)

    async def _client_credentials(self, held: _Held, current: StoredConnection) -> StoredConnection:
        if not current.tenant_id:
            raise TokenError(
                f"service-account connection {self.connection_id!r} has no tenant id",
                error="no_tenant",
            )
        try:
            tokens = await self._oauth.client_credentials(current.tenant_id)
        except ConsentRequired as err:
            cause = ReconnectCause.SERVICE_ACCOUNT_REFUSED
            await self._mark_dead("Fortnox refused the service account (invalid_grant)", cause)
            err.cause = cause
            raise
        return await self._store_rotated(held, tokens)

    async def _after_invalid_grant(
        self, sent: StoredConnection, *, left_in_progress: bool
    ) -> StoredConnection:
        latest = await self.connection()
        if latest.refresh_token is not None and latest.refresh_token != sent.refresh_token:
            log.info("connection %s was refreshed elsewhere meanwhile", self.connection_id)
            return latest
        if left_in_progress:
            await self._mark_dead(
                "an earlier refresh did not finish: Fortnox rotated the refresh token but the "
                "new one was never stored, so the remediator lost it",
                ReconnectCause.LOST,
            )
            raise ConsentRequired(
                f"the remediator lost the refresh token of connection {self.connection_id!r} "
                "(a refresh did not finish): it must be re-authorized",
                error="invalid_grant",
                cause=ReconnectCause.LOST,
            )
        await self._mark_dead(
            "Fortnox answered invalid_grant to the stored refresh token",
            ReconnectCause.INVALIDATED,
        )
        raise ConsentRequired(
            f"Fortnox invalidated connection {self.connection_id!r}: it must be re-authorized",
            error="invalid_grant",
            cause=ReconnectCause.INVALIDATED,
        )

    async def _mark_refreshing(self) -> None:
        marked = await asyncio.to_thread(
            self._store.mark_refreshing, self.connection_id, self._owner, self._lease
        )
        if not marked:
            raise TokenError(
                f"the refresh lock of connection {self.connection_id!r} was taken over before "
                "the refresh started: nothing was sent",
                error="lock_lost",
            )

    async def _store_rotated(self, held: _Held, tokens: TokenSet) -> StoredConnection:
        """Persist the rotated tokens before anyone uses the new access token: retried, and
        only while this process still holds the lock, which the same write lets go."""
        try:
            async for attempt in self._store_retry.retrying():
                with attempt:
                    saved = await asyncio.to_thread(
                        self._store.store_refreshed, self.connection_id, self._owner, tokens
                    )
        except Exception as err:  # noqa: BLE001 - whatever the store raised, the token is lost
            log.critical(
                "the rotated refresh token of %s could not be stored (%s): it is lost",
                self.connection_id,
                type(err).__name__,
            )
            raise TokenError(
                f"the rotated refresh token of connection {self.connection_id!r} could not be "
                f"stored ({type(err).__name__}): the connection will need reconnecting",
                error="store_failed",
            ) from None
        if saved is None:
            log.critical("refresh lock of %s lost before the store", self.connection_id)
            raise TokenError(
                f"the refresh lock of connection {self.connection_id!r} was taken over before "
                "the rotated token could be stored: it was not stored",
                error="lock_lost",
            )
        held.released = True
        if self._on_refresh is not None:
            self._on_refresh(self.connection_id)
        log.info("refreshed the tokens of connection %s", self.connection_id)
        return saved

    async def _mark_dead(self, reason: str, cause: ReconnectCause) -> None:
        await asyncio.to_thread(self._store.mark_needs_reconnect, self.connection_id, reason, cause)
        log.warning("connection %s needs reconnecting: %s", self.connection_id, reason)

    @property
    def _owner(self) -> str:
        return self._locks.owner

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[_Held]:
        """The refresh lock, with the connection as stored when it was taken."""
        async with self._locks.for_connection(self.connection_id):
            held = _Held(await self._take_lease())
            try:
                yield held
            finally:
                if not held.released:
                    await asyncio.to_thread(self._store.unlock, self.connection_id, self._owner)

    async def _take_lease(self) -> StoredConnection:
        deadline = time.monotonic() + self._lease + 5
        while True:
            current = await asyncio.to_thread(
                self._store.try_lock, self.connection_id, self._owner, self._lease
            )
            if current is not None:
                return current
            if time.monotonic() > deadline:
                raise TokenError(
                    f"could not take the refresh lock of connection {self.connection_id!r}",
                    error="lock_timeout",
                )
            await asyncio.sleep(0.05)


@dataclass
class _Held:
    """The refresh lock while held: the connection read when it was taken, and whether the
    store of the rotated tokens has let it go already."""

    connection: StoredConnection
    released: bool = False


def _authorized(current: StoredConnection) -> None:
    """A connection that never held a token is not dead: it was never authorized."""
    if current.status is ConnectionStatus.NOT_AUTHORIZED:
        raise ConsentRequired(
            f"connection {current.id!r} is not authorized yet: run "
            f"`remediator connections authorize-url {current.id}`",
            error=NOT_AUTHORIZED,
        )


def _usable(current: StoredConnection) -> StoredConnection:
    _authorized(current)
    if current.status is ConnectionStatus.NEEDS_RECONNECT:
        cause = current.status_cause
        raise ConsentRequired(
            f"connection {current.id!r} needs to be reconnected "
            f"({current.status_reason or 'marked earlier'})",
            error="needs_reconnect",
            cause=cause,
        )
    return current


def _token(connection: StoredConnection) -> SecretStr:
    if connection.access_token is None:
        raise ConsentRequired(f"connection {connection.id!r} has no access token", error="no_grant")
    return connection.access_token
