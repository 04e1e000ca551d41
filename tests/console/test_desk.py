"""Try an error, restaurants (true state, reconnect link, preflight, policy), and pages that
work on a machine with no internet (the console's and /docs' assets are served locally)."""

from __future__ import annotations

import re
from pathlib import Path

from remediator.fortnox import ReconnectCause
from remediator.storage import Connection
from tests.console.conftest import Desk, csrf_of, open_desk
from tests.service.conftest import AUTH


def test_try_an_error_explains_it_without_a_restaurant(signed_in: Desk) -> None:
    before = len(signed_in.harness.sandbox.requests)
    page = signed_in.client.get("/console/try")
    answer = signed_in.client.post(
        "/console/try",
        data={"csrf": csrf_of(page), "message": 'Fel vid export: Konto "3001" är inte aktivt'},
    )
    assert answer.status_code == 200
    assert "account_inactive" in answer.text
    assert "3001" in answer.text
    assert "account=3001" in answer.text
    assert "{" not in answer.text.split("<main>")[1]
    assert len(signed_in.harness.sandbox.requests) == before  # no restaurant: no Fortnox
    for code in ("²", "9" * 5000):  # a digit Python's int() refuses; more digits than it takes
        odd = signed_in.client.post(
            "/console/try", data={"csrf": csrf_of(page), "message": "Okänt fel", "code": code}
        )
        assert odd.status_code == 200  # not a code: the message alone is explained
        assert "unrecognized" in odd.text


def test_try_an_error_plans_for_a_restaurant_and_writes_nothing(signed_in: Desk) -> None:
    page = signed_in.client.get("/console/try")
    answer = signed_in.client.post(
        "/console/try",
        data={
            "csrf": csrf_of(page),
            "message": "Fel vid export: Verifikationsserien är inte manuell (F)",
            "restaurant": signed_in.harness.connection_id,
            "day": "2026-03-02",
        },
    )
    assert answer.status_code == 200
    assert "Plan (torrkörning, inget skrevs)" in answer.text
    assert "would_change" in answer.text
    assert "PUT /3/voucherseries/F" in answer.text  # the write it would make
    assert signed_in.harness.sandbox.writes() == []
    runs = signed_in.client.get("/v1/runs", headers=AUTH).json()
    assert runs["total"] == 0  # a try is not one of the service's runs


def test_restaurants_show_the_true_state(signed_in: Desk) -> None:
    store = signed_in.harness.app().state.service.runtime.store
    store.add(Connection(id="never", label="Nytt Kafé", client_id="x"))
    listed = signed_in.client.get("/console/restaurants")
    assert "Aldrig godkänd" in listed.text
    assert "Aktiv" in listed.text
    store.mark_needs_reconnect(signed_in.harness.connection_id, "invalid_grant")
    assert "Behöver kopplas om" in signed_in.client.get("/console/restaurants").text
    store.mark_needs_reconnect("never", "a refresh did not finish", ReconnectCause.LOST)
    assert "Tappad av oss" in signed_in.client.get("/console/restaurants").text


def test_a_restaurant_page_gives_the_reconnect_link_and_runs_the_check(signed_in: Desk) -> None:
    path = f"/console/restaurants/{signed_in.harness.connection_id}"
    page = signed_in.client.get(path)
    link = re.search(r'<pre id="reconnect" class="link">([^<]+)</pre>', page.text)
    assert link
    assert f"/v1/connections/{signed_in.harness.connection_id}/authorize?" in link.group(1)
    checked = signed_in.client.post(
        f"{path}/check", data={"csrf": csrf_of(page), "day": "2026-03-02", "series": "f"}
    )
    assert checked.status_code == 200
    assert "hinder hittades" in checked.text
    assert "✗" in checked.text  # series F is not manual in this scenario
    assert signed_in.harness.sandbox.writes() == []


def test_a_policy_change_is_saved_and_audited_with_the_person(signed_in: Desk) -> None:
    path = f"/console/restaurants/{signed_in.harness.connection_id}"
    page = signed_in.client.get(path)
    form = dict.fromkeys(
        ("create_series", "set_manual", "activate_account", "resend_voucher"), "auto"
    )
    answer = signed_in.client.post(
        f"{path}/policy",
        data=form | {"create_account": "never", "set_manual": "review", "csrf": csrf_of(page)},
    )
    assert answer.status_code == 200
    assert "Policyn sparades." in answer.text
    shown = signed_in.client.get(
        f"/v1/connections/{signed_in.harness.connection_id}", headers=AUTH
    ).json()
    assert shown["policy"]["set_manual"] == "review"
    assert shown["policy"]["create_account"] == "never"
    entries = signed_in.audit.for_connection(signed_in.harness.connection_id)
    assert [(e.actor, e.via, e.action) for e in entries] == [("eva", "console", "policy")]
    assert "set_manual: auto → review" in (entries[0].detail or "")
    bad = signed_in.client.post(
        f"{path}/policy", data={"set_manual": "sometimes", "csrf": csrf_of(page)}
    )
    assert bad.status_code == 400


def test_docs_and_console_assets_come_from_the_service(tmp_path: Path) -> None:
    for desk in open_desk(tmp_path):
        docs = desk.client.get("/docs")
        redoc = desk.client.get("/redoc")
        assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text + redoc.text)
        assert assets
        for asset in assets:
            assert asset.startswith("/"), asset
            assert desk.client.get(asset).status_code == 200, asset
        assert "cdn" not in (docs.text + redoc.text).lower()
        assert "fonts.googleapis" not in redoc.text
        login = desk.client.get("/console/login")
        for asset in re.findall(r'(?:src|href)="(/console/static/[^"]+)"', login.text):
            assert desk.client.get(asset).status_code == 200


def test_a_check_fortnox_does_not_answer_says_it_is_not_complete(signed_in: Desk) -> None:
    path = f"/console/restaurants/{signed_in.harness.connection_id}"
    page = signed_in.client.get(path)
    signed_in.harness.sandbox.set_faults(burst_503_seconds=600)
    checked = signed_in.client.post(
        f"{path}/check", data={"csrf": csrf_of(page), "day": "2026-03-02", "series": "F"}
    )
    assert checked.status_code == 200
    assert "Kontrollen är inte klar: Fortnox svarade inte." in checked.text
    assert "Fortnox svarade inte, så det kunde inte kontrolleras" in checked.text
    assert "hinder hittades" not in checked.text


def test_a_restaurant_page_shows_no_findings_before_the_check_is_run(signed_in: Desk) -> None:
    page = signed_in.client.get(f"/console/restaurants/{signed_in.harness.connection_id}")
    assert "hinder hittades" not in page.text
    assert signed_in.client.get("/console/restaurants/nobody").status_code == 404
