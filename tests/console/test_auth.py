"""Who may use the console: people with a session; never the api token; CSRF on every form;
a failed-login limit; one-time links; cookies that scripts and other sites cannot use."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from remediator.storage.users import MAX_FAILED_LOGINS
from tests import postgres
from tests.console.conftest import ADMIN, PASSWORD, Desk, csrf_of, open_desk
from tests.service.conftest import AUTH, TestClient

PAGES = ["/console/runs", "/console/try", "/console/restaurants", "/console/runs/nope"]
FORMS = [
    "/console/runs/some-run/approve",
    "/console/runs/some-run/reject",
    "/console/try",
    "/console/restaurants/rest-series_not_manual/policy",
    "/console/restaurants/rest-series_not_manual/check",
    "/console/logout",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_a_session_and_the_api_token_is_not_one(desk: Desk, path: str) -> None:
    for headers in ({}, AUTH, {"Cookie": "remediator_session=made-up"}):
        answer = desk.client.get(path, headers=headers, follow_redirects=False)
        assert answer.status_code == 303, (path, headers)
        assert answer.headers["location"].startswith("/console/login?next=/console/")


def test_logging_in_sets_a_strict_httponly_cookie_and_logging_out_ends_it(desk: Desk) -> None:
    desk.add_user()
    answer = desk.login()
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/runs")
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "remediator_session=" in c)
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    token = desk.client.cookies["remediator_session"]
    assert token not in (desk.harness.settings.database_url)  # stored only as a hash
    runs = desk.client.get("/console/runs")
    assert runs.status_code == 200
    assert "eva" in runs.text
    out = desk.client.post("/console/logout", data={"csrf": csrf_of(runs)}, follow_redirects=False)
    assert out.status_code == 303
    desk.client.cookies.set("remediator_session", token, path="/console")
    assert desk.client.get("/console/runs", follow_redirects=False).status_code == 303
    actions = [(e.actor, e.action) for e in desk.audit.recent()]
    assert ("eva", "login") in actions
    assert ("eva", "logout") in actions


def test_the_cookie_is_secure_behind_https(tmp_path: Path) -> None:
    for desk in open_desk(tmp_path):
        desk.add_user()
        app = desk.harness.app(public_url="https://remediator.example", worker_concurrency=0)
        with TestClient(app, base_url="https://remediator.example") as client:
            secure = Desk(desk.harness, client, desk.users, desk.audit)
            cookies = secure.login().headers.get_list("set-cookie")
        session = next(c for c in cookies if "remediator_session=" in c)
        assert "Secure" in session


def test_a_wrong_password_or_name_is_refused_alike(desk: Desk) -> None:
    desk.add_user()
    wrong = desk.login(password="not the password")
    unknown = desk.login(name="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert "Fel namn eller lösenord." in wrong.text
    assert "Fel namn eller lösenord." in unknown.text
    assert "remediator_session" not in desk.client.cookies


def test_failed_logins_lock_the_account(desk: Desk) -> None:
    desk.add_user()
    for _ in range(MAX_FAILED_LOGINS):
        assert desk.login(password="guess").status_code == 401
    locked = desk.login()  # the right password, too late
    assert locked.status_code == 401
    assert "låst" in locked.text
    assert desk.users.locked("eva")


def test_a_failure_count_starts_over_after_a_good_login(desk: Desk) -> None:
    desk.add_user()
    for _ in range(MAX_FAILED_LOGINS - 1):
        desk.login(password="guess")
    assert desk.login().status_code == 303
    assert desk.users.get("eva").failed_logins == 0


@pytest.mark.parametrize("path", FORMS)
def test_every_form_refuses_a_missing_or_wrong_csrf_token(signed_in: Desk, path: str) -> None:
    for data in ({}, {"csrf": "forged"}, {"csrf": ""}):
        answer = signed_in.client.post(path, data=data | {"reason": "x", "message": "x"})
        assert answer.status_code == 403, (path, data)
    assert signed_in.client.get("/console/runs").status_code == 200  # still signed in


def test_a_form_from_another_site_is_refused_even_with_the_token(signed_in: Desk) -> None:
    token = signed_in.csrf()
    answer = signed_in.client.post(
        "/console/try",
        data={"csrf": token, "message": "Access denied"},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    same = signed_in.client.post(
        "/console/try",
        data={"csrf": token, "message": "Access denied"},
        headers={"Origin": "http://testserver"},
    )
    assert same.status_code == 200


def test_the_login_form_needs_its_own_token(desk: Desk) -> None:
    desk.add_user()
    answer = desk.client.post(
        "/console/login", data={"name": "eva", "password": PASSWORD, "csrf": "forged"}
    )
    assert answer.status_code == 403
    assert "remediator_session" not in desk.client.cookies


def test_a_one_time_link_sets_a_password_once_and_signs_in(desk: Desk) -> None:
    desk.users.add("ali", "ali@example.se", ADMIN)
    token = desk.users.invite("ali", 3600)
    form = desk.client.get(f"/console/welcome?token={token}")
    assert form.status_code == 200
    assert "ali@example.se" in form.text
    short = desk.client.post(
        "/console/welcome",
        data={
            "token": token,
            "password": "short",
            "password_again": "short",
            "csrf": csrf_of(form),
        },
    )
    assert short.status_code == 400
    differ = desk.client.post(
        "/console/welcome",
        data={
            "token": token,
            "password": PASSWORD,
            "password_again": PASSWORD + "!",
            "csrf": csrf_of(short),
        },
    )
    assert differ.status_code == 400
    done = desk.client.post(
        "/console/welcome",
        data={
            "token": token,
            "password": PASSWORD,
            "password_again": PASSWORD,
            "csrf": csrf_of(differ),
        },
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (303, "/console/runs")
    assert desk.client.get("/console/runs").status_code == 200
    assert desk.client.get(f"/console/welcome?token={token}").status_code == 404  # used


def test_a_disabled_person_is_signed_out_at_once(signed_in: Desk) -> None:
    signed_in.users.set_disabled("eva", ADMIN, disabled=True)
    assert signed_in.client.get("/console/runs", follow_redirects=False).status_code == 303
    assert signed_in.login().status_code == 401
    signed_in.users.set_disabled("eva", ADMIN, disabled=False)
    assert signed_in.login().status_code == 303


def test_pages_carry_headers_that_keep_other_origins_out(signed_in: Desk) -> None:
    page = signed_in.client.get("/console/runs")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert "http://" not in page.text.replace("http://testserver", "")
    assert "https://" not in page.text


def test_a_value_postgresql_cannot_take_is_422_not_an_outage(tmp_path: Path) -> None:
    """A NUL character in a form field: the database refuses the value (PostgreSQL's text
    cannot hold one), which sending it again does not change, so not a 503."""
    with postgres.fresh_schema(postgres.require()) as url:
        with contextmanager(open_desk)(tmp_path, database_url=url) as desk:
            answer = desk.login(name="eva\x00")
        assert answer.status_code == 422, answer.text
        assert "database cannot take" in answer.json()["problems"][0]
