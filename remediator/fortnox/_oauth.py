"""Calls to Fortnox's OAuth token endpoint, through authlib."""

from __future__ import annotations

import itertools
import time
import warnings
from contextvars import ContextVar
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.deprecate import AuthlibDeprecationWarning
from pydantic import SecretStr

with warnings.catch_warnings():
    # authlib 1.9 nudges towards the httpx2 fork; this project is built on httpx itself.
    warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from remediator.fortnox._events import RequestHook, RequestRecord, no_hook
from remediator.fortnox._exceptions import ConsentRequired, TokenError
from remediator.fortnox._grants import TokenSet
from remediator.fortnox._jwt import scopes_of, tenant_of
from remediator.fortnox._network import transport_options
from remediator.tls import verifying

REFRESH_TOKEN_LIFETIME = 45 * 24 * 3600  # Fortnox: 45 days (older pages say 31)
_last_status: ContextVar[int | None] = ContextVar("_last_status", default=None)


# How long an idle connection is kept for reuse: under the 5 s after which common servers
# (uvicorn, so the sandbox; many proxies) close an idle one. At 5 s, as httpx has it, a request
# could go out on a connection the server was closing that instant: a ReadError, and for a
# voucher POST an outcome that is not known (the remediation bench at 10,000 failures saw it).
KEEPALIVE_SECONDS = 4.0  # the API's pools (_connector)

# A token call never reuses a connection: a refresh token is single-use, and a request sent
# on a kept-alive connection the server was closing that instant fails with an outcome that is
# not known (was the token rotated?). Under load the client reads answers late, so its idle
# clock can run behind the server's and no keep-alive expiry is safe. A token call is once an
# hour per company: a new connection (and TLS handshake) each time costs little.
TOKEN_LIMITS = httpx.Limits(max_keepalive_connections=0)

# Token calls go out over this many clients, in turn: behind a proxy (httpx's own transport,
# not _network's) a pool looks at every connection at each request and each answer, so a
# burst of refreshes (one per company) on one pool would cost in proportion to the square of
# the companies.
POOLS = 16


class OAuthClient:
    """Builds consent links and talks to ``/oauth-v1/token`` for one integration."""

    def __init__(
        self,
        *,
        oauth_url: str,
        client_id: str,
        client_secret: SecretStr,
        redirect_uri: str,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        hook: RequestHook = no_hook,
    ) -> None:
        self.oauth_url = oauth_url.rstrip("/")
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self._hook = hook
        # over the network: POOLS clients (sharing the process's TLS context); one for a given
        # transport
        self._clients = [
            _client(
                client_id=client_id,
                client_secret=client_secret,
                redirect_uri=redirect_uri,
                timeout=timeout,
                transport=transport,
            )
            for _ in range(POOLS if transport is None else 1)
        ]
        self._turn = itertools.cycle(self._clients)

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r}, oauth_url={self.oauth_url!r})"

    def authorization_url(self, state: str, scopes: list[str], *, service_account: bool) -> str:
        """The consent link a person opens to connect (or reconnect) a Fortnox company."""
        extra = {"account_type": "service"} if service_account else {}
        url, _ = self._clients[0].create_authorization_url(
            f"{self.oauth_url}/auth",
            state=state,
            scope=" ".join(scopes),
            access_type="offline",
            **extra,
        )
        return str(url)

    async def exchange_code(self, code: str) -> TokenSet:
        return await self._call(
            "authorization_code",
            next(self._turn).fetch_token(
                self._token_url,
                grant_type="authorization_code",
                code=code,
                redirect_uri=self.redirect_uri,
            ),
        )

    async def refresh(self, refresh_token: SecretStr) -> TokenSet:
        """Refresh with ``refresh_token``. An answer without a refresh token comes back with
        ``refresh_token=None``: authlib fills in the one sent, which Fortnox has used up."""
        tokens = await self._call(
            "refresh_token",
            next(self._turn).refresh_token(
                self._token_url, refresh_token=refresh_token.get_secret_value()
            ),
        )
        if tokens.refresh_token == refresh_token:
            return tokens.model_copy(update={"refresh_token": None, "refresh_expires_at": None})
        return tokens

    async def client_credentials(self, tenant_id: str) -> TokenSet:
        return await self._call(
            "client_credentials",
            next(self._turn).fetch_token(
                self._token_url,
                grant_type="client_credentials",
                headers={"TenantId": tenant_id},
            ),
        )

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    @property
    def _token_url(self) -> str:
        return f"{self.oauth_url}/token"

    async def _call(self, grant_type: str, pending: Any) -> TokenSet:
        started = time.monotonic()
        _last_status.set(None)
        error: str | None = None
        try:
            return _token_set(await pending)
        except OAuthError as err:
            error = str(err.error)
            raise _token_error(err, _last_status.get()) from None
        except httpx.HTTPStatusError as err:
            error = "http_error"
            raise TokenError(
                f"the token endpoint answered HTTP {err.response.status_code}",
                status=err.response.status_code,
            ) from None
        except (httpx.HTTPError, AuthlibBaseError, ValueError) as err:
            error = type(err).__name__
            raise TokenError(f"the token endpoint could not be used ({error})") from None
        finally:
            self._hook(
                RequestRecord(
                    kind="token",
                    method="POST",
                    path="/oauth-v1/token",
                    status=_last_status.get(),
                    duration=time.monotonic() - started,
                    grant_type=grant_type,
                    error=error,
                )
            )


def _client(
    *,
    client_id: str,
    client_secret: SecretStr,
    redirect_uri: str,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None,
) -> AsyncOAuth2Client:
    client = AsyncOAuth2Client(
        client_id=client_id,
        client_secret=client_secret.get_secret_value(),
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
        redirect_uri=redirect_uri,
        timeout=timeout,
        **(
            {"transport": transport}
            if transport is not None
            else transport_options(TOKEN_LIMITS, verifying())
        ),
    )
    for hook_type in ("access_token_response", "refresh_token_response"):
        client.register_compliance_hook(hook_type, _remember_status)
    return client


def _remember_status(response: httpx.Response) -> httpx.Response:
    _last_status.set(response.status_code)
    return response


def _token_error(err: OAuthError, status: int | None) -> TokenError:
    description = err.description or err.error
    if err.error == "invalid_grant":
        return ConsentRequired(
            f"Fortnox refused the grant ({description}): the connection must be re-authorized",
            error="invalid_grant",
            status=status,
        )
    return TokenError(
        f"the token endpoint refused: {err.error} ({description})",
        error=str(err.error),
        status=status,
    )


def _token_set(token: dict[str, Any]) -> TokenSet:
    now = time.time()
    access = str(token["access_token"])
    refresh = token.get("refresh_token")
    scope = token.get("scope")
    scopes = tuple(str(scope).split()) if scope else scopes_of(access)
    return TokenSet(
        access_token=SecretStr(access),
        expires_at=now + float(token.get("expires_in", 3600)),
        refresh_token=SecretStr(str(refresh)) if refresh else None,
        refresh_expires_at=now + REFRESH_TOKEN_LIFETIME if refresh else None,
        scopes=scopes,
        tenant_id=tenant_of(access),
    )
