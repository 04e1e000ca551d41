"""The connector: one pooled HTTP client, rate limiter and OAuth client shared by all tenants."""

from __future__ import annotations

import asyncio
import secrets
import zlib
from collections.abc import Callable
from types import TracebackType
from typing import Self

import httpx

from remediator.fortnox._client import FortnoxClient, Pool
from remediator.fortnox._events import RequestHook, RequestRecord, no_hook
from remediator.fortnox._exceptions import TokenError
from remediator.fortnox._grants import ConnectionKind, StoredConnection, TokenSet, TokenStore
from remediator.fortnox._memory import Memory
from remediator.fortnox._network import transport_options
from remediator.fortnox._oauth import KEEPALIVE_SECONDS, OAuthClient
from remediator.fortnox._ratelimit import SlidingWindowLimiter
from remediator.fortnox._retry import RetryPolicy
from remediator.fortnox._tokens import RefreshLocks, StoreRetry, TokenManager
from remediator.settings import Settings
from remediator.tls import verifying

_HEADERS = {"Accept": "application/json"}

# Connection pools the tenants are spread over (by a hash of the tenant id). The connector's
# own transport (_network) finds a connection in constant time, whatever a pool holds; httpx's
# transport, used where the environment names a proxy, looks at every connection of a pool
# whenever a request starts or ends, so with one pool for all tenants each request would cost
# time in proportion to the tenants at work (py-spy, before _network: a tenth of the event
# loop's time in httpcore's has_expired with 16 pools). A tenant's requests go one after the
# other, so with a few tenants per pool each keeps its connection; an idle pool costs nothing
# but a few objects.
POOLS = 64


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps and sends nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:  # noqa: ARG002 - httpx's
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:  # noqa: ARG002 - httpx's
        return None


_NO_COOKIES = _NoCookies()


class _CookielessClient(httpx.AsyncClient):
    """httpx's client without a cookie jar. Fortnox's API authenticates by bearer token and
    needs no cookie (and the API client builds its requests itself, so none was ever sent),
    but httpx read every answer for cookies to keep: a sixteenth of a burst's event loop
    (py-spy, bench/remediation.py)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:  # noqa: ARG002 - httpx's setter
        return None  # nothing is kept


def _pools(
    settings: Settings, transport: httpx.AsyncBaseTransport | None
) -> list[httpx.AsyncClient]:
    """The HTTP clients of the API: ``POOLS`` of them over the network (sharing one TLS
    context), one when ``transport`` replaces the network."""
    timeout = httpx.Timeout(settings.http_timeout, connect=settings.connect_timeout)
    if transport is not None:
        return [_CookielessClient(timeout=timeout, transport=transport, headers=_HEADERS)]
    tls = verifying()
    limits = httpx.Limits(
        max_connections=100, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_SECONDS
    )
    return [
        _CookielessClient(timeout=timeout, headers=_HEADERS, **transport_options(limits, tls))
        for _ in range(POOLS)
    ]


class FortnoxConnector:
    """Opens per-connection clients that share pooling, the per-tenant rate limit and locks.

    ``transport`` replaces the network (an ASGI app such as the sandbox, or a mock) for both
    the API and the token endpoint. ``hook`` sees every request of every client.
    """

    def __init__(
        self,
        settings: Settings,
        store: TokenStore,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        hook: RequestHook = no_hook,
        retry: RetryPolicy | None = None,
        limiter: SlidingWindowLimiter | None = None,
    ) -> None:
        self.settings, self.store = settings, store
        self._hook = hook
        self.limiter = limiter or SlidingWindowLimiter(
            settings.rate_limit_requests, settings.rate_limit_window, settings.rate_limit_margin
        )
        self.retry = retry or RetryPolicy(
            attempts=settings.retry_attempts, max_seconds=settings.retry_max_seconds
        )
        self.locks = RefreshLocks()
        self.store_retry = StoreRetry()
        self._pools = [Pool.of(http) for http in _pools(settings, transport)]
        self.oauth = OAuthClient(
            oauth_url=settings.fortnox_oauth_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            redirect_uri=settings.redirect_uri,
            timeout=settings.http_timeout,
            transport=transport,
            hook=self._emit,
        )
        self._refresh_hooks: list[RequestHook] = []

    def __repr__(self) -> str:
        return f"FortnoxConnector(api_url={self.settings.fortnox_api_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.http.aclose()
        await self.oauth.aclose()

    def tokens(self, connection_id: str) -> TokenManager:
        """The token manager of one connection (cheap; state lives in the store and locks)."""
        return TokenManager(
            self.store,
            self.oauth,
            connection_id,
            locks=self.locks,
            margin_seconds=self.settings.refresh_margin_seconds,
            lease_seconds=self.settings.refresh_lock_seconds,
            store_retry=self.store_retry,
        )

    def client(
        self,
        connection: StoredConnection,
        *,
        read_only: bool,
        hook: RequestHook = no_hook,
        guard: Callable[[], None] | None = None,
        memory: Memory | None = None,
    ) -> FortnoxClient:
        """A client for ``connection``; ``read_only`` for dry runs refuses POST/PUT/DELETE;
        ``guard`` is called before every write (and may raise to stop it); ``memory``: the
        company session's remembered reads (never used by a read-only client)."""

        def both(record: RequestRecord) -> None:
            self._emit(record)
            hook(record)

        tenant = connection.tenant_id or f"connection:{connection.id}"
        return FortnoxClient(
            pool=self._pools[zlib.crc32(tenant.encode()) % len(self._pools)],
            api_url=self.settings.fortnox_api_url,
            tokens=self.tokens(connection.id),
            tenant=tenant,
            limiter=self.limiter,
            retry=self.retry,
            hook=both,
            read_only=read_only,
            guard=guard,
            memory=memory,
        )

    def authorization_url(
        self,
        state: str | None = None,
        *,
        service_account: bool = False,
        scopes: list[str] | None = None,
    ) -> tuple[str, str]:
        """A consent link and its ``state`` (generated when not given)."""
        state = state or secrets.token_urlsafe(24)
        url = self.oauth.authorization_url(
            state, scopes or self.settings.scopes, service_account=service_account
        )
        return url, state

    async def exchange(self, connection_id: str, code: str) -> TokenSet:
        """Exchange a consent code for ``connection_id``'s tokens (not stored yet). An answer
        without a refresh token is refused for a connection that lives on one."""
        tokens = await self.oauth.exchange_code(code)
        connection = await asyncio.to_thread(self.store.get, connection_id)
        if connection.kind is ConnectionKind.REFRESH_TOKEN and tokens.refresh_token is None:
            raise TokenError(
                "Fortnox answered the consent without a refresh token: nothing was stored",
                error="refresh_token_missing",
            )
        return tokens

    async def connect(self, connection_id: str, code: str) -> StoredConnection:
        """Exchange a consent code and store the tokens on the connection."""
        tokens = await self.exchange(connection_id, code)
        return await asyncio.to_thread(self.store.save_tokens, connection_id, tokens)

    async def connect_service_account(self, connection_id: str) -> StoredConnection:
        """Fetch a first token for a service-account connection (needs its tenant id)."""
        connection = self.store.get(connection_id)
        if connection.kind is not ConnectionKind.SERVICE_ACCOUNT:
            raise ValueError("not a service-account connection")
        return await self.tokens(connection_id).refresh_now(revive=True)

    def _emit(self, record: RequestRecord) -> None:
        self._hook(record)
