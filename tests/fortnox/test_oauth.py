"""Calls to the token endpoint through authlib, and how their errors are told apart."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from pydantic import SecretStr

from remediator.fortnox import ConsentRequired, FortnoxConnector, TokenError
from remediator.fortnox._oauth import OAuthClient
from tests.fortnox.conftest import TOKEN_URL, Recorder, invalid_grant, jwt, token_response


def test_authorization_url_carries_state_scopes_and_offline(connector: FortnoxConnector) -> None:
    url, state = connector.authorization_url("state-123")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://apps.fortnox.test/oauth-v1/auth"
    )
    assert state == "state-123"
    assert query["client_id"] == ["client-1"]
    assert query["response_type"] == ["code"]
    assert query["state"] == ["state-123"]
    assert query["access_type"] == ["offline"]
    assert query["redirect_uri"] == ["https://remediator.test/oauth/callback"]
    assert query["scope"][0].split() == ["bookkeeping", "companyinformation", "settings", "profile"]
    assert "account_type" not in query


def test_authorization_url_for_a_service_account_and_a_fresh_state(
    connector: FortnoxConnector,
) -> None:
    url, state = connector.authorization_url(service_account=True)
    query = parse_qs(urlsplit(url).query)
    assert query["account_type"] == ["service"]
    assert len(state) >= 24
    assert query["state"] == [state]


@respx.mock
async def test_code_exchange_uses_basic_auth_and_reads_tenant_from_the_jwt(
    connector: FortnoxConnector, recorder: Recorder
) -> None:
    route = respx.post(TOKEN_URL).mock(return_value=token_response(jwt("222222")))
    tokens = await connector.oauth.exchange_code("code-1")
    request = route.calls.last.request
    basic = base64.b64encode(b"client-1:client-secret-value").decode()
    assert request.headers["Authorization"] == f"Basic {basic}"
    form = parse_qs(request.content.decode())
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == ["code-1"]
    assert form["redirect_uri"] == ["https://remediator.test/oauth/callback"]
    assert tokens.tenant_id == "222222"
    assert tokens.scopes == ("bookkeeping", "companyinformation")
    assert tokens.refresh_token == SecretStr("refresh-token-2")
    (record,) = recorder.token()
    assert (record.grant_type, record.status, record.error) == ("authorization_code", 200, None)


@respx.mock
async def test_client_credentials_sends_the_tenant_header_and_gets_no_refresh_token(
    connector: FortnoxConnector,
) -> None:
    route = respx.post(TOKEN_URL).mock(return_value=token_response(jwt("333"), refresh=None))
    tokens = await connector.oauth.client_credentials("333")
    request = route.calls.last.request
    assert request.headers["TenantId"] == "333"
    assert parse_qs(request.content.decode())["grant_type"] == ["client_credentials"]
    assert tokens.refresh_token is None


@respx.mock
async def test_invalid_grant_with_an_html_content_type_means_consent_required(
    connector: FortnoxConnector, recorder: Recorder
) -> None:
    respx.post(TOKEN_URL).mock(return_value=invalid_grant())
    with pytest.raises(ConsentRequired, match="Invalid refresh token") as caught:
        await connector.oauth.refresh(SecretStr("dead"))
    assert caught.value.error == "invalid_grant"
    assert caught.value.status == 400
    assert recorder.token()[0].error == "invalid_grant"


@respx.mock
@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            httpx.Response(401, json={"error": "invalid_client", "error_description": "Bad"}),
            "invalid_client",
        ),
        (httpx.Response(503, text="<html><title>Service Unavailable</title></html>"), None),
        (httpx.Response(200, text="<html>maintenance</html>"), None),
        (httpx.ConnectError("refused"), None),
    ],
    ids=["invalid_client", "503", "html-200", "network"],
)
async def test_other_token_errors_are_not_consent_required(
    connector: FortnoxConnector, answer: httpx.Response | Exception, error: str | None
) -> None:
    respx.post(TOKEN_URL).mock(side_effect=[answer])
    with pytest.raises(TokenError) as caught:
        await connector.oauth.refresh(SecretStr("rt"))
    assert not isinstance(caught.value, ConsentRequired)
    assert caught.value.error == error


async def test_a_token_call_never_reuses_a_connection() -> None:
    """A refresh token is single-use: a refresh must not go out on a kept-alive connection the
    server may be closing (its outcome would not be known). 17 calls over the 16 clients in
    turn: a client that kept its connection would use it again at the 17th."""
    accepted: list[asyncio.StreamWriter] = []
    body = json.dumps({"access_token": jwt(), "refresh_token": "next", "expires_in": 3600})

    async def token_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:  # answer every request on this connection, keeping it open
                head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
                length = head.partition("content-length:")[2].split("\r\n")[0].strip()
                await reader.readexactly(int(length or 0))
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
                )
                await writer.drain()

    server = await asyncio.start_server(token_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    oauth = OAuthClient(
        oauth_url=f"http://127.0.0.1:{port}/oauth-v1",
        client_id="client",
        client_secret=SecretStr("secret"),
        redirect_uri="http://127.0.0.1/callback",
    )
    try:
        for _ in range(17):
            await oauth.refresh(SecretStr("single-use"))
    finally:
        await oauth.aclose()
        server.close()
        for writer in accepted:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        await server.wait_closed()
    assert len(accepted) == 17
