"""The reconnect link in a report: the restaurant opens it without the api token and the
reconnect goes through; an altered, foreign or expired link is refused with a page that says
to ask for a new one; the link's signature appears in no log and no other answer."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import FastAPI
from pydantic import SecretStr

from remediator.kinds import ErrorKind
from remediator.links import ReconnectLinks
from remediator.report import Outcome, Report
from remediator.storage import ConnectionStatus
from tests.e2e.support import Rig, healthy_state
from tests.service.conftest import (
    API_TOKEN,
    AUTH,
    INTAKE_SECRET,
    Harness,
    Receiver,
    TestClient,
    harness_for,
    post_failure,
    reconnect_link,
    wait_for,
)
from tests.service.test_reconnect import consent

ASK_AGAIN = ("Be den som skickade den om en ny länk", "Ask whoever sent it for a new link")


def waiting_for_reconnect(harness: Harness, client: TestClient) -> tuple[str, str]:
    """A failure on a dead connection, worked by the service: its run id and its report's link."""
    harness.connect(client)
    run_id = post_failure(client, harness.failure()).json()["run_id"]
    run = wait_for(client, run_id)
    assert (run["state"], run["outcome"]) == ("awaiting_reconnect", "manual_action_required")
    return run_id, reconnect_link(run["report"])


def links_of(app: FastAPI) -> ReconnectLinks:
    links: ReconnectLinks = app.state.service.runtime.engine.links
    return links


def with_query(path: str, **changes: str) -> str:
    split = urlsplit(path)
    query = {k: v[0] for k, v in parse_qs(split.query).items()} | changes
    return f"{split.path}?{urlencode(query)}"


def test_the_link_in_a_report_reconnects_without_the_api_token(tmp_path: Path) -> None:
    harness = harness_for("connection_invalidated", tmp_path)
    app = harness.app()
    with harness.client(app) as client:
        run_id, link = waiting_for_reconnect(harness, client)
        query = parse_qs(urlsplit(link).query)
        assert urlsplit(link).path == f"/v1/connections/{harness.connection_id}/authorize"
        expires = int(query["expires"][0])
        lifetime = harness.settings.reconnect_link_seconds
        assert lifetime == 7 * 24 * 3600
        assert time.time() + lifetime - 60 < expires <= time.time() + lifetime + 1

        assert "authorization" not in {k.lower() for k in client.headers}
        as_json = client.get(link, headers={"Accept": "application/json"})
        assert as_json.status_code == 200
        assert as_json.json()["authorize_url"].startswith("http://sandbox/oauth-v1/auth?")
        redirect = client.get(link, follow_redirects=False)  # as the restaurant's browser
        assert redirect.status_code == 302
        location = redirect.headers["location"]
        assert location.startswith("http://sandbox/oauth-v1/auth?")
        assert parse_qs(urlsplit(location).query)["client_id"] == ["remediator-demo"]

        answer = client.get(consent(harness, location))
        assert answer.status_code == 200, answer.text
        assert "Klart: kopplingen till Fortnox fungerar igen." in answer.text
        assert "Done: the connection to Fortnox works again." in answer.text
        assert "The Z-report for 2026-03-02 is being sent to Fortnox again now" in answer.text
        shown = client.get(f"/v1/connections/{harness.connection_id}", headers=AUTH).json()
        assert shown["status"] == "active"
        assert shown["has_refresh_token"] is True
        done = wait_for(client, run_id, ("done",))
        assert done["outcome"] == "fixed"
        assert len(harness.vouchers()) == 1
        # the link is not spent by a browser or a mail scanner opening it: still good
        assert client.get(link, follow_redirects=False).status_code == 302


def test_a_report_made_in_a_terminal_carries_a_link_the_service_opens(tmp_path: Path) -> None:
    """The CLI's engine (its own process, the same settings and database) against a grant
    revoked in Fortnox: its report's link works at the service."""
    rig = Rig.open(healthy_state(), tmp_path / "cli")

    async def report_in_the_terminal() -> Report:
        try:
            rig.sandbox.world.revoke("bistro")
            failure = await rig.export()
            report: Report = await rig.runtime.engine.run(failure, mode="apply")
            return report
        finally:
            await rig.close()

    report = asyncio.run(report_in_the_terminal())
    assert report.kind == ErrorKind.CONNECTION_INVALIDATED
    assert report.outcome is Outcome.MANUAL_ACTION_REQUIRED
    link = reconnect_link(report.model_dump(mode="json"))
    service = rig.runtime.settings.model_copy(
        update={
            "redirect_uri": "http://testserver/oauth/callback",
            "api_token": SecretStr(API_TOKEN),
            "intake_secret": SecretStr(INTAKE_SECRET),
            "worker_concurrency": 0,
        }
    )
    harness = Harness(rig.sandbox, service, Receiver(), "connection_invalidated")
    with harness.client() as client:
        redirect = client.get(link, follow_redirects=False)
        assert redirect.status_code == 302, redirect.text
        answer = client.get(consent(harness, redirect.headers["location"]))
        assert answer.status_code == 200, answer.text
        assert "works again" in answer.text
        app_service = client.app.state.service  # type: ignore[attr-defined]
        connection = app_service.runtime.store.get(rig.connection.id)
    assert connection.status is ConnectionStatus.ACTIVE


def refusals(app: FastAPI, link: str, connection_id: str) -> dict[str, str]:
    links = links_of(app)
    query = parse_qs(urlsplit(link).query)
    expires, sig = query["expires"][0], query["sig"][0]
    foreign = ReconnectLinks("http://testserver", b"not the service's key", links.lifetime)
    expired = links.url(connection_id, now=time.time() - links.lifetime - 1)
    return {
        "another connection": link.replace(connection_id, "rest-someone-else"),
        "a later expiry": with_query(link, expires=str(int(expires) + 86400)),
        "another signature": with_query(link, sig=sig[::-1]),
        "no signature": with_query(link, sig=""),
        "no expiry": with_query(link, expires=""),
        "a foreign key": reconnect_link_path(foreign.url(connection_id)),
        "expired": reconnect_link_path(expired),
    }


def reconnect_link_path(url: str) -> str:
    split = urlsplit(url)
    return f"{split.path}?{split.query}"


def test_an_altered_foreign_or_expired_link_is_refused_with_a_page(tmp_path: Path) -> None:
    harness = harness_for("connection_invalidated", tmp_path)
    app = harness.app()
    with harness.client(app) as client:
        _, link = waiting_for_reconnect(harness, client)
        for why, bad in refusals(app, link, harness.connection_id).items():
            page = client.get(bad, follow_redirects=False)
            assert page.status_code == 403, why
            assert page.headers["content-type"].startswith("text/html"), why
            assert all(text in page.text for text in ASK_AGAIN), why
            gone = "gått ut" in page.text and "expired" in page.text
            assert gone is (why == "expired"), why
            answer = client.get(bad, headers={"Accept": "application/json"})
            assert answer.status_code == 403, why
            body = answer.json()
            assert body["problems"] == ["link: expired" if why == "expired" else "link: invalid"]
            assert ASK_AGAIN[1] in body["en"]
        # a valid link opens the authorize redirect of its own connection, and nothing else
        query = urlsplit(link).query
        for method, path in [
            ("GET", f"/v1/connections/{harness.connection_id}"),
            ("POST", f"/v1/connections/{harness.connection_id}/access-token"),
            ("GET", "/v1/runs"),
        ]:
            answer = client.request(method, f"{path}?{query}")
            assert answer.status_code == 401, path
        shown = client.get(f"/v1/connections/{harness.connection_id}", headers=AUTH).json()
        assert shown["status"] == "needs_reconnect"  # nothing was changed by any of it
        assert shown["reconnect_url"].startswith(
            f"http://testserver/v1/connections/{harness.connection_id}/authorize?expires="
        )


def test_the_api_token_still_opens_authorize_and_a_bad_token_with_no_link_is_401(
    harness: Harness,
) -> None:
    client = TestClient(harness.app(worker_concurrency=0))
    harness.connect(client)
    path = f"/v1/connections/{harness.connection_id}/authorize"
    assert client.get(path, headers=AUTH, follow_redirects=False).status_code == 302
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": b"Bearer v\xe4l"}):
        answer = client.get(path, headers=headers, follow_redirects=False)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
    # a good link is enough even next to a wrong token
    link = reconnect_link_path(links_of(client.app).url(harness.connection_id))  # type: ignore[arg-type]
    wrong = {"Authorization": "Bearer wrong"}
    assert client.get(link, headers=wrong, follow_redirects=False).status_code == 302


def test_a_valid_link_to_a_connection_that_is_gone_is_a_page(harness: Harness) -> None:
    client = TestClient(harness.app(worker_concurrency=0))
    link = reconnect_link_path(links_of(client.app).url("rest-removed"))  # type: ignore[arg-type]
    page = client.get(link, follow_redirects=False)
    assert page.status_code == 404
    assert "Kopplingen finns inte längre" in page.text
    assert "The connection no longer exists" in page.text
    assert client.get(link, headers={"Accept": "application/json"}).status_code == 404


def test_no_link_signature_reaches_the_log_or_another_answer(
    tmp_path: Path, log_lines: io.StringIO
) -> None:
    harness = harness_for("connection_invalidated", tmp_path)
    app = harness.app()
    answers: list[str] = []
    with harness.client(app) as client:
        run_id, link = waiting_for_reconnect(harness, client)
        bad = refusals(app, link, harness.connection_id)
        for path in bad.values():
            answers.append(client.get(path).text)
            answers.append(client.get(path, headers={"Accept": "application/json"}).text)
        location = client.get(link, follow_redirects=False).headers["location"]
        answers.append(client.get(consent(harness, location)).text)
        answers.append(json.dumps(wait_for(client, run_id, ("done",))))
        answers.append(client.get("/v1/runs", headers=AUTH).text)
        answers.append(client.get("/metrics").text)
    signatures = {parse_qs(urlsplit(path).query).get("sig", [""])[0] for path in bad.values()}
    signatures = {sig for sig in signatures if sig}
    signatures.add(parse_qs(urlsplit(link).query)["sig"][0])
    text = log_lines.getvalue()
    assert "reconnect link refused" in text
    assert "consent link issued (reconnect link)" in text
    lines: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines() if line]
    assert lines
    assert [sig for sig in signatures if sig in text] == []
    assert [sig for sig in signatures if any(sig in answer for answer in answers)] == []
    key = links_of(app)._key  # the key itself must not leak either
    assert [answer for answer in [text, *answers] if key.hex() in answer] == []
