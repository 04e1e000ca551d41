"""The reconnect flow against the sandbox's OAuth: authorize → consent → callback → active
connection → the runs that waited are queued again. States are single use and expire.
(Authorize with the api token here; with a report's signed link in test_reconnect_link.py.)"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from remediator.storage import Database
from remediator.storage.oauth_states import InvalidStateError, OAuthStateStore
from tests.service.conftest import (
    AUTH,
    Harness,
    TestClient,
    harness_for,
    post_failure,
    reconnect_link,
    wait_for,
)


def consent(harness: Harness, location: str) -> str:
    """What a person's browser does at Fortnox: the sandbox consents at once and redirects."""
    with httpx.Client(transport=_sync(harness), base_url="http://sandbox") as browser:
        answer = browser.get(location)
    assert answer.status_code == 302
    redirect = urlsplit(answer.headers["location"])
    assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == (
        "http://testserver/oauth/callback"
    )
    return f"{redirect.path}?{redirect.query}"


def _sync(harness: Harness) -> httpx.BaseTransport:
    """The sandbox app behind a synchronous transport (the TestClient's machinery)."""
    transport: httpx.BaseTransport = TestClient(harness.sandbox.app)._transport
    return transport


def test_a_dead_connection_waits_then_reconnects_and_its_runs_finish(tmp_path: Path) -> None:
    harness = harness_for("connection_invalidated", tmp_path)
    with harness.client() as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        waiting = wait_for(client, run_id)
        assert (waiting["state"], waiting["outcome"]) == (
            "awaiting_reconnect",
            "manual_action_required",
        )
        link = reconnect_link(waiting["report"])  # signed: see test_reconnect_link.py
        assert link.startswith(f"/v1/connections/{harness.connection_id}/authorize?expires=")
        connection = client.get(f"/v1/connections/{harness.connection_id}", headers=AUTH).json()
        assert connection["status"] == "needs_reconnect"

        redirect = client.get(
            f"/v1/connections/{harness.connection_id}/authorize",
            headers=AUTH,
            follow_redirects=False,
        )
        assert redirect.status_code == 302
        location = redirect.headers["location"]
        query = parse_qs(urlsplit(location).query)
        assert location.startswith("http://sandbox/oauth-v1/auth?")
        assert query["client_id"] == ["remediator-demo"]
        assert query["redirect_uri"] == ["http://testserver/oauth/callback"]
        callback = consent(harness, location)

        answer = client.get(callback)
        assert answer.status_code == 200, answer.text
        assert "Klart: kopplingen till Fortnox fungerar igen." in answer.text
        assert "Done: the connection to Fortnox works again." in answer.text
        assert "Z-rapporten för 2026-03-02 skickas nu till Fortnox igen" in answer.text
        assert "The Z-report for 2026-03-02 is being sent to Fortnox again now" in answer.text
        connection = client.get(f"/v1/connections/{harness.connection_id}", headers=AUTH).json()
        assert connection["status"] == "active"
        assert connection["has_refresh_token"] is True
        owner = connection["owner"]  # who consented, read from /3/me at consent
        assert (owner["name"], owner["email"], owner["sys_admin"]) == (
            "Anna Ek",
            "anna@example.se",
            True,
        )
        assert connection["owner_warning"] is None
        done = wait_for(client, run_id, ("done",))
        assert done["outcome"] == "fixed"  # the waiting run booked the day
        assert done["attempts"] == 0
        assert done["report"]["resent"] is True
        assert (
            "The Z-report for 2026-03-02 was booked as voucher" in done["report"]["summary"]["en"]
        )
        assert len(harness.vouchers()) == 1

        replay = client.get(callback)
        assert replay.status_code == 400
        assert "already used or expired" in replay.text


def test_a_state_from_nowhere_or_a_refused_consent_changes_nothing(harness: Harness) -> None:
    with harness.client() as client:
        harness.connect(client)
        unknown = client.get("/oauth/callback", params={"state": "made-up", "code": "x"})
        assert unknown.status_code == 400
        link = client.get(
            f"/v1/connections/{harness.connection_id}/authorize",
            headers=AUTH | {"Accept": "application/json"},
        ).json()
        state = parse_qs(urlsplit(link["authorize_url"]).query)["state"][0]
        refused = client.get("/oauth/callback", params={"state": state, "error": "access_denied"})
        assert refused.status_code == 400
        assert "not approved" in refused.text
        again = client.get("/oauth/callback", params={"state": state, "code": "anything"})
        assert again.status_code == 400  # the state was used up by the refusal


def test_a_state_expires(tmp_path: Path) -> None:
    states = OAuthStateStore(Database(f"sqlite:///{tmp_path / 's.db'}"))
    live = states.issue("rest-1", 60)
    expired = states.issue("rest-1", -1)
    assert states.consume(live) == "rest-1"
    for state in (live, expired):
        with pytest.raises(InvalidStateError):
            states.consume(state)


def test_a_consent_for_another_company_is_refused(tmp_path: Path) -> None:
    harness = harness_for("connection_invalidated", tmp_path)
    with harness.client() as client:
        harness.connect(client)
        client.put(
            f"/v1/connections/{harness.connection_id}", headers=AUTH, json={"tenant_id": "999"}
        ).raise_for_status()
        location = client.get(
            f"/v1/connections/{harness.connection_id}/authorize",
            headers=AUTH,
            follow_redirects=False,
        ).headers["location"]
        answer = client.get(consent(harness, location))
        connection = client.get(f"/v1/connections/{harness.connection_id}", headers=AUTH).json()
    assert answer.status_code == 409
    assert (connection["tenant_id"], connection["status"]) == ("999", "active")


def test_runs_waiting_for_a_reconnect_done_elsewhere_are_queued_again(tmp_path: Path) -> None:
    harness = harness_for("connection_invalidated", tmp_path)
    with harness.client() as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        assert wait_for(client, run_id)["state"] == "awaiting_reconnect"
        # e.g. `remediator connections connect` from a terminal: tokens stored, status active
        app_service = client.app.state.service  # type: ignore[attr-defined]
        url, _ = app_service.runtime.connector.authorization_url("from-the-cli")
        code = parse_qs(urlsplit(consent(harness, url)).query)["code"][0]
        tokens = client.portal.call(app_service.runtime.connector.oauth.exchange_code, code)  # type: ignore[union-attr]
        app_service.runtime.store.save_tokens(harness.connection_id, tokens)
        done = wait_for(client, run_id, ("done",))
    assert done["outcome"] == "fixed"
    assert len(harness.vouchers()) == 1


def test_the_page_names_the_waiting_runs_a_look_back_queued_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The moment the tokens are stored the connection is active, and any instance's look-back
    may queue its waiting runs again before the callback does: the page still names them."""
    harness = harness_for("connection_invalidated", tmp_path)
    with harness.client() as client:
        harness.connect(client)
        run_id = post_failure(client, harness.failure()).json()["run_id"]
        assert wait_for(client, run_id)["state"] == "awaiting_reconnect"
        app_service = client.app.state.service  # type: ignore[attr-defined]
        store, queue = app_service.runtime.store, app_service.queue
        # the look-back is this test's own: the workers' periodic one would race it
        monkeypatch.setattr(app_service.workers, "_looked_back", float("inf"))
        save_tokens = store.save_tokens
        looked_back: list[str] = []

        def then_a_look_back(connection_id: str, tokens: object) -> None:
            save_tokens(connection_id, tokens)
            looked_back.extend(queue.requeue_reconnected_anywhere())

        monkeypatch.setattr(store, "save_tokens", then_a_look_back)
        location = client.get(
            f"/v1/connections/{harness.connection_id}/authorize",
            headers=AUTH,
            follow_redirects=False,
        ).headers["location"]
        answer = client.get(consent(harness, location))
        assert looked_back == [run_id]  # the look-back won
        assert answer.status_code == 200, answer.text
        assert "Z-rapporten för 2026-03-02 skickas nu till Fortnox igen" in answer.text
        assert "The Z-report for 2026-03-02 is being sent to Fortnox again now" in answer.text
        done = wait_for(client, run_id, ("done",))
    assert done["outcome"] == "fixed"
    assert len(harness.vouchers()) == 1
