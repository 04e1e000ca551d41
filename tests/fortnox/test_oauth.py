"""Calls to the token endpoint through authlib, and how their errors are told apart."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from pydantic import SecretStr

from remediator.fortnox import ConsentRequired, FortnoxConnector, TokenError
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
