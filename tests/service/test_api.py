"""The API around runs and connections: the api token, listing and paging, connections
without tokens, access tokens from the one token manager, the OpenAPI page."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from remediator.errors import UnknownConnectionError
from tests.service.conftest import (
    AUTH,
    DIALECTS,
    Harness,
    TestClient,
    harness_for,
    on_dialect,
    post_failure,
    wait_for,
)

PROTECTED = [
    ("GET", "/v1/runs"),
    ("GET", "/v1/runs/some-run"),
    ("POST", "/v1/runs/some-run/apply"),
    ("GET", "/v1/connections/rest-account_inactive"),
    ("PUT", "/v1/connections/rest-account_inactive"),
    ("POST", "/v1/connections/rest-account_inactive/access-token"),
    ("GET", "/v1/connections/rest-account_inactive/authorize"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_everything_under_v1_but_intake_needs_the_api_token(
    harness: Harness, method: str, path: str
) -> None:
    client = TestClient(harness.app(worker_concurrency=0))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        answer = client.request(method, path, headers=headers, json={})
        assert answer.status_code == 401, (method, path, headers)
        assert answer.headers["www-authenticate"] == "Bearer"


def test_connections_are_created_updated_and_shown_without_tokens(harness: Harness) -> None:
    client = TestClient(harness.app(worker_concurrency=0))
    harness.connect(client)
    path = f"/v1/connections/{harness.connection_id}"
    updated = client.put(
        path,
        headers=AUTH,
        json={"label": "Café Linnea AB", "policy": {"activate_account": "review"}},
    )
    assert updated.status_code == 200
    shown = client.get(path, headers=AUTH).json()
    assert shown["label"] == "Café Linnea AB"
    assert shown["restaurant"] == {"id": "rest-account_inactive", "name": "Café Linnea"}
    assert shown["policy"]["activate_account"] == "review"
    assert shown["policy"]["create_series"] == "auto"  # the rest from the default policy
    assert shown["policy_is_default"] is False
    assert shown["has_refresh_token"] is True
    grant = harness.sandbox.world.state.grants[0]
    assert grant.refresh_token not in updated.text + str(shown)
    assert not {"refresh_token", "access_token"} & set(shown)
    again = client.put(path, headers=AUTH, json={"refresh_token": "another-one"})
    assert again.status_code == 409  # a conflict with the connection's state
    assert "already has a refresh token" in again.json()["detail"]
    missing = client.get("/v1/connections/nobody", headers=AUTH)
    assert missing.status_code == 404
    nameless = client.put("/v1/connections/new-one", headers=AUTH, json={})
    assert nameless.status_code == 400


def test_the_access_token_comes_from_the_token_manager(harness: Harness) -> None:
    with harness.client() as client:
        harness.connect(client)
        answer = client.post(f"/v1/connections/{harness.connection_id}/access-token", headers=AUTH)
        second = client.post(f"/v1/connections/{harness.connection_id}/access-token", headers=AUTH)
        shown = client.get(f"/v1/connections/{harness.connection_id}", headers=AUTH).json()
    assert answer.status_code == 200
    token = answer.json()["access_token"]
    assert harness.sandbox.world.authenticate(token) is not None
    assert second.json()["access_token"] == token  # still valid: not refreshed again
    refreshes = [r for r in harness.sandbox.requests if r["path"] == "/oauth-v1/token"]
    assert len(refreshes) == 1
    assert shown["last_refresh_at"] is not None
    assert shown["tenant_id"] == "100004"


def test_runs_are_listed_newest_first_filtered_and_paged(harness: Harness) -> None:
    with harness.client() as client:
        harness.connect(client)
        ids = [
            post_failure(client, harness.failure(f"evt-{n}", day=f"2026-02-0{n}")).json()["run_id"]
            for n in range(1, 6)
        ]
        for run_id in ids:
            wait_for(client, run_id)
        page = client.get("/v1/runs", headers=AUTH, params={"limit": 2, "offset": 1}).json()
        fixed = client.get("/v1/runs", headers=AUTH, params={"outcome": "fixed"}).json()
        other = client.get("/v1/runs", headers=AUTH, params={"connection": "other"}).json()
        queued = client.get("/v1/runs", headers=AUTH, params={"state": "queued"}).json()
        invalid = client.get("/v1/runs", headers=AUTH, params={"state": "sleeping"})
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert [item["id"] for item in page["items"]] == [ids[3], ids[2]]
    assert "report" not in page["items"][0]
    assert fixed["total"] == 5
    assert (other["total"], queued["total"]) == (0, 0)
    assert invalid.status_code == 422
    assert invalid.json()["problems"][0].startswith("query.state")


def test_the_openapi_page_documents_the_api(harness: Harness) -> None:
    client = TestClient(harness.app(worker_concurrency=0))
    schema = client.get("/openapi.json").json()
    assert {
        "/v1/failures",
        "/v1/runs",
        "/v1/runs/{run_id}",
        "/v1/runs/{run_id}/apply",
        "/v1/connections/{connection_id}",
        "/v1/connections/{connection_id}/access-token",
        "/v1/connections/{connection_id}/authorize",
        "/oauth/callback",
        "/healthz",
        "/metrics",
    } <= set(schema["paths"])
    intake = schema["paths"]["/v1/failures"]["post"]
    ref = intake["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ExportFailure"
    assert "event_id" in schema["components"]["schemas"]["ExportFailure"]["properties"]
    assert client.get("/docs").status_code == 200


def test_a_method_a_path_does_not_answer_is_405_naming_every_method_it_does(
    harness: Harness,
) -> None:
    client = TestClient(harness.app(worker_concurrency=0))
    schema = client.get("/openapi.json").json()["paths"]
    for path, documented in (
        ("/v1/connections/x", schema["/v1/connections/{connection_id}"]),
        ("/v1/runs/x", schema["/v1/runs/{run_id}"]),
        ("/v1/failures", schema["/v1/failures"]),
    ):
        refused = client.request("DELETE", path, headers=AUTH)
        assert refused.status_code == 405
        assert refused.json()["detail"] == "Method Not Allowed"
        assert set(refused.headers["Allow"].split(", ")) == {m.upper() for m in documented}
    nowhere = client.get("/v1/nowhere", headers=AUTH)  # the same problem shape as the rest
    assert nowhere.status_code == 404
    assert nowhere.json() == {"detail": "Not Found", "problems": []}


def test_an_access_token_for_a_dead_connection_is_409(tmp_path: Path) -> None:
    harness = harness_for("connection_invalidated", tmp_path)
    with harness.client() as client:
        harness.connect(client)
        answer = client.post(f"/v1/connections/{harness.connection_id}/access-token", headers=AUTH)
        shown = client.get(f"/v1/connections/{harness.connection_id}", headers=AUTH).json()
    assert answer.status_code == 409
    assert "must be authorized again" in answer.json()["detail"]
    assert shown["status"] == "needs_reconnect"


def test_an_access_token_fortnox_will_not_give_is_502(harness: Harness) -> None:
    with harness.client(harness.app(client_secret=SecretStr("not-the-secret"))) as client:
        harness.connect(client)
        answer = client.post(f"/v1/connections/{harness.connection_id}/access-token", headers=AUTH)
        shown = client.get(f"/v1/connections/{harness.connection_id}", headers=AUTH).json()
    assert answer.status_code == 502
    assert "invalid_client" in answer.json()["detail"]
    assert shown["status"] == "active"  # a configuration error is no reason to reconnect


def test_a_service_account_connection_is_created_without_a_refresh_token(
    harness: Harness,
) -> None:
    client = TestClient(harness.app(worker_concurrency=0))
    path = "/v1/connections/kedjan"
    nameless = client.put(path, headers=AUTH, json={"label": "Kedjan", "kind": "service_account"})
    assert nameless.status_code == 400
    assert "needs tenant_id" in nameless.json()["detail"]
    made = client.put(
        path,
        headers=AUTH,
        json={"label": "Kedjan", "kind": "service_account", "tenant_id": "100004"},
    )
    assert made.status_code == 201
    assert (made.json()["kind"], made.json()["has_refresh_token"]) == ("service_account", False)
    refused = client.put(path, headers=AUTH, json={"refresh_token": "rt"})
    assert refused.status_code == 400
    changed = client.put(path, headers=AUTH, json={"kind": "refresh_token"})
    assert changed.status_code == 400


def test_a_connection_id_longer_than_the_failure_allows_is_refused(harness: Harness) -> None:
    client = TestClient(harness.app(worker_concurrency=0))
    answer = client.put(f"/v1/connections/{'x' * 101}", headers=AUTH, json={"label": "L"})
    assert answer.status_code == 422
    assert answer.json()["problems"][0].startswith("path.connection_id")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_put_that_finds_its_connection_created_meanwhile_updates_it(
    harness: Harness, dialect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two PUTs creating one connection at once: the second looked before the first's insert
    and found nothing; its insert is refused (tests/storage: ConnectionExists), and it updates
    the connection the first created, as if it had come after (it was a 400 "already exists",
    or a 503 on PostgreSQL)."""
    with on_dialect(harness, dialect) as on_it:
        first, second = (TestClient(on_it.app(worker_concurrency=0)) for _ in range(2))
        store = second.app.state.service.runtime.store  # type: ignore[attr-defined]
        looked = store.get

        def before_the_first_insert(connection_id: str) -> object:
            monkeypatch.setattr(store, "get", looked)  # once: the retry reads it as it is
            raise UnknownConnectionError(connection_id)

        monkeypatch.setattr(store, "get", before_the_first_insert)
        created = first.put("/v1/connections/new-one", headers=AUTH, json={"label": "A"})
        updated = second.put("/v1/connections/new-one", headers=AUTH, json={"label": "B"})
        assert (created.status_code, updated.status_code) == (201, 200), updated.text
        stored = first.get("/v1/connections/new-one", headers=AUTH).json()
        assert stored["label"] == "B"
