"""OAuth under /oauth-v1/: consent, codes, single-use refresh tokens with reuse revocation,
client authentication, service accounts, expiry and revocation."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from remediator.sandbox import Sandbox, SandboxStateError
from tests.sandbox.conftest import (
    CLIENT_ID,
    REFRESH,
    TENANT,
    StateData,
    basic,
    bearer,
    changed,
    claims,
    client_for,
    refresh,
    tenant,
)

INVALID_GRANT = {"error": "invalid_grant", "error_description": "Invalid refresh token"}


async def consent(http: httpx.AsyncClient, scope: str = "bookkeeping profile") -> dict[str, str]:
    answer = await http.get(
        "/oauth-v1/auth",
        params={
            "client_id": CLIENT_ID,
            "response_type": "code",
            "state": "st-1",
            "scope": scope,
            "redirect_uri": "http://app.test/cb",
            "access_type": "offline",
        },
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://app.test/cb"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def exchange(http: httpx.AsyncClient, code: str) -> httpx.Response:
    return await http.post(
        "/oauth-v1/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://app.test/cb",
        },
        headers=basic(),
    )


def assert_invalid_grant(answer: httpx.Response) -> None:
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")  # Fortnox's wrong type
    assert answer.json() == INVALID_GRANT  # but the body is JSON


async def test_consent_redirects_with_code_and_state_and_the_code_gives_the_asked_scopes(
    http: httpx.AsyncClient,
) -> None:
    query = await consent(http, "bookkeeping profile")
    assert query["state"] == "st-1"
    answer = await exchange(http, query["code"])
    assert answer.status_code == 200
    tokens = answer.json()
    assert tokens["scope"] == "bookkeeping profile"
    assert tokens["expires_in"] == 3600
    assert tokens["token_type"] == "bearer"
    found = claims(tokens["access_token"])
    assert found["tenantId"] == int(TENANT)
    assert found["userId"] == "u1"
    assert found["clientId"] == CLIENT_ID
    assert found["scopes"] == ["bookkeeping", "profile"]
    assert found["exp"] - found["iat"] == 3600
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await http.get("/3/me", headers=headers)).status_code == 200
    refused = await http.get("/3/companyinformation", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["ErrorInformation"]["code"] == 2000663


async def test_a_code_is_single_use(http: httpx.AsyncClient) -> None:
    code = (await consent(http))["code"]
    assert (await exchange(http, code)).status_code == 200
    assert_invalid_grant(await exchange(http, code))


async def test_a_code_lives_ten_minutes(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    code = (await consent(http))["code"]
    sandbox.advance(601)
    assert_invalid_grant(await exchange(http, code))


async def test_consent_for_an_unknown_client_is_refused(http: httpx.AsyncClient) -> None:
    answer = await http.get("/oauth-v1/auth", params={"client_id": "nobody", "state": "s"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client"


async def test_consent_without_a_consent_user_in_the_state_is_refused() -> None:
    async with client_for(changed(lambda d: d.pop("consent"))) as http:
        answer = await http.get("/oauth-v1/auth", params={"client_id": CLIENT_ID})
    assert answer.status_code == 400
    assert answer.json()["error"] == "access_denied"


async def test_refresh_rotates_the_refresh_token_every_time(http: httpx.AsyncClient) -> None:
    first = (await refresh(http, REFRESH)).json()
    assert first["refresh_token"] != REFRESH
    second = (await refresh(http, first["refresh_token"])).json()
    assert second["refresh_token"] not in (REFRESH, first["refresh_token"])
    assert second["access_token"] != first["access_token"]
    headers = {"Authorization": f"Bearer {second['access_token']}"}
    assert (await http.get("/3/companyinformation", headers=headers)).status_code == 200


async def test_reusing_a_refresh_token_revokes_the_whole_grant(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    winner = (await refresh(http, REFRESH)).json()
    assert_invalid_grant(await refresh(http, REFRESH))  # the loser reuses the old token
    assert_invalid_grant(await refresh(http, winner["refresh_token"]))  # the winner's is dead too
    headers = {"Authorization": f"Bearer {winner['access_token']}"}
    answer = await http.get("/3/companyinformation", headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"message": "unauthorized"}
    grants = {g["name"]: g for g in sandbox.snapshot()["grants"]}
    assert grants["bistro"]["revoked"] is True


async def test_an_unknown_refresh_token_is_invalid_grant(http: httpx.AsyncClient) -> None:
    assert_invalid_grant(await refresh(http, "never-issued"))


@pytest.mark.parametrize(
    "headers",
    [
        basic(secret="wrong-secret"),
        basic(client_id="someone-else"),
        {},
        {"Authorization": "Basic !!not-base64!!"},
        {"Authorization": "Bearer abc"},
    ],
    ids=["wrong-secret", "unknown-client", "no-auth", "garbage", "not-basic"],
)
async def test_wrong_client_credentials_are_invalid_client_401(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await http.post(
        "/oauth-v1/token",
        data={"grant_type": "refresh_token", "refresh_token": REFRESH},
        headers=headers,
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert (await refresh(http, REFRESH)).status_code == 200  # the grant was not touched


async def test_an_unknown_grant_type_is_refused(http: httpx.AsyncClient) -> None:
    answer = await http.post("/oauth-v1/token", data={"grant_type": "password"}, headers=basic())
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


async def test_client_credentials_with_tenant_id_give_a_token_without_refresh_token(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.post(
        "/oauth-v1/token",
        data={"grant_type": "client_credentials"},
        headers=basic() | {"TenantId": TENANT},
    )
    assert answer.status_code == 200
    tokens = answer.json()
    assert "refresh_token" not in tokens
    assert claims(tokens["access_token"])["tenantId"] == int(TENANT)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = (await http.get("/3/companyinformation", headers=headers)).json()
    assert info["CompanyInformation"]["DatabaseNumber"] == int(TENANT)


@pytest.mark.parametrize("tenant_header", [{}, {"TenantId": "999999"}], ids=["none", "unknown"])
async def test_client_credentials_need_a_known_tenant(
    http: httpx.AsyncClient, tenant_header: dict[str, str]
) -> None:
    answer = await http.post(
        "/oauth-v1/token",
        data={"grant_type": "client_credentials"},
        headers=basic() | tenant_header,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


async def test_client_credentials_need_a_client_allowed_service_accounts() -> None:
    def no_service_accounts(data: StateData) -> None:
        data["clients"][0]["service_accounts"] = False

    async with client_for(changed(no_service_accounts)) as http:
        answer = await http.post(
            "/oauth-v1/token",
            data={"grant_type": "client_credentials"},
            headers=basic() | {"TenantId": TENANT},
        )
    assert answer.status_code == 400


async def test_an_access_token_expires_after_an_hour(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    headers = await bearer(http)
    sandbox.advance(3590)
    assert (await http.get("/3/me", headers=headers)).status_code == 200
    sandbox.advance(20)
    answer = await http.get("/3/me", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"message": "unauthorized"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}],
    ids=["none", "unknown", "basic"],
)
async def test_without_a_valid_access_token_the_api_answers_unauthorized(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await http.get("/3/companyinformation", headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"message": "unauthorized"}


async def test_revoking_a_refresh_token_ends_the_grant(http: httpx.AsyncClient) -> None:
    tokens = (await refresh(http, REFRESH)).json()
    answer = await http.post(
        "/oauth-v1/revoke",
        data={"token_type_hint": "refresh_token", "token": tokens["refresh_token"]},
        headers=basic(),
    )
    assert answer.json() == {"revoked": True}
    assert_invalid_grant(await refresh(http, tokens["refresh_token"]))
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await http.get("/3/me", headers=headers)).status_code == 401


async def test_revoking_needs_client_authentication_and_a_known_token(
    http: httpx.AsyncClient,
) -> None:
    unknown = await http.post("/oauth-v1/revoke", data={"token": "nope"}, headers=basic())
    assert unknown.json() == {"revoked": False}
    anonymous = await http.post("/oauth-v1/revoke", data={"token": REFRESH})
    assert anonymous.status_code == 401
    assert (await refresh(http, REFRESH)).status_code == 200


async def test_the_request_log_names_the_grant_type_of_token_calls(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    await refresh(http, REFRESH)
    await refresh(http, REFRESH)
    first, second = sandbox.requests
    assert first["grant_type"] == second["grant_type"] == "refresh_token"
    assert (first["status"], first["tenant"]) == (200, TENANT)
    assert second["status"] == 400


def test_a_grant_user_must_exist_in_its_tenant() -> None:
    def other_user(data: StateData) -> None:
        tenant(data)["users"][0]["id"] = "u9"
        data["consent"]["user_id"] = "u9"

    with pytest.raises(SandboxStateError, match=r"\$\.grants\[0\]\.user_id: unknown user 'u1'"):
        changed(other_user)


async def test_the_connection_invalidated_scenario_has_a_dead_grant() -> None:
    sandbox = Sandbox.from_scenario("connection_invalidated")
    async with client_for(sandbox) as http:
        assert_invalid_grant(await refresh(http, "rt-connection_invalidated-1"))


DAY = 86_400


async def test_a_refresh_token_unused_for_its_lifetime_dies(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    sandbox.advance(45 * DAY + 60)
    assert_invalid_grant(await refresh(http))


async def test_each_refresh_restarts_the_lifetime(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    sandbox.advance(40 * DAY)
    first = await refresh(http)
    assert first.status_code == 200
    sandbox.advance(40 * DAY)
    assert (await refresh(http, first.json()["refresh_token"])).status_code == 200


async def test_the_lifetime_comes_from_the_state() -> None:
    sandbox = changed(lambda d: d.update(refresh_token_days=31))
    async with client_for(sandbox) as http:
        sandbox.advance(31 * DAY + 1)
        assert_invalid_grant(await refresh(http))
