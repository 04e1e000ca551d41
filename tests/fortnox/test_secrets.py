"""No token ever shows in a log line, a repr, a str or an exception."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest
import respx
from pydantic import SecretStr

from remediator.fortnox import ConsentRequired, FortnoxConnector, RateLimited
from remediator.storage import ConnectionStore, TokenSet
from tests.conftest import API, connection
from tests.fortnox.conftest import TOKEN_URL, invalid_grant, jwt, token_response

ACCESS = jwt(jti="secret-access-marker")
SECRETS = [
    "access-token-old",
    "refresh-token-1",
    "refresh-token-2",
    ACCESS,
    "client-secret-value",
    "secret-access-marker",
]


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@respx.mock
async def test_a_whole_refresh_and_failure_cycle_leaks_nothing(
    connector: FortnoxConnector, store: ConnectionStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store.add(connection(valid_for=-10))
    respx.post(TOKEN_URL).mock(
        side_effect=[token_response(ACCESS, "refresh-token-2"), invalid_grant()]
    )
    respx.get(f"{API}/me").mock(return_value=httpx.Response(429))
    client = connector.client(store.get("rest-1"), read_only=True)
    seen: list[str] = [
        repr(client),
        repr(connector),
        repr(connector.oauth),
        repr(store),
        repr(connector.tokens("rest-1")),
    ]
    with pytest.raises(RateLimited) as limited:
        await client.me()
    seen += [
        str(limited.value),
        repr(limited.value),
        "".join(traceback.format_exception(limited.value)),
    ]
    store.save_tokens(
        "rest-1",
        TokenSet(
            access_token=SecretStr("x"), expires_at=0, refresh_token=SecretStr("refresh-token-2")
        ),
    )
    with pytest.raises(ConsentRequired) as dead:
        await connector.tokens("rest-1").access_token()
    seen += [str(dead.value), repr(dead.value), "".join(traceback.format_exception(dead.value))]
    stored = store.get("rest-1")
    seen += [repr(stored), str(stored), stored.model_dump_json()]
    seen += [record.getMessage() for record in caplog.records]
    for text in seen:
        assert_clean(text)
    assert any("refreshed the tokens" in r.getMessage() for r in caplog.records)


def test_settings_repr_hides_the_client_secret(connector: FortnoxConnector) -> None:
    assert_clean(repr(connector.settings))
    assert_clean(str(connector.settings.model_dump()))
