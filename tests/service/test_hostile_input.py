"""Hostile input seen from outside: each case once answered 500 or left a run stuck. Anything a
client sends gets a 4xx with a JSON problem; what is accepted is worked to the end."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from remediator import signing
from remediator.storage import Database
from remediator.storage.db import connections, runs
from tests.service.conftest import (
    AUTH,
    DIALECTS,
    INTAKE_SECRET,
    Harness,
    TestClient,
    on_dialect,
    post_failure,
    wait_for,
)


def client_of(harness: Harness, **overrides: Any) -> TestClient:
    """A client that shows a server error as a 500 instead of raising it."""
    return TestClient(harness.app(**overrides), raise_server_exceptions=False)


def problem(answer: Any, status: int) -> dict[str, Any]:
    """The answer is ``status`` with the usual problem body, as escaped (ASCII) JSON."""
    assert answer.status_code == status, answer.text
    assert answer.content.isascii(), answer.content[:200]
    body: dict[str, Any] = json.loads(answer.content)
    assert set(body) == {"detail", "problems"}
    return body


def nested(depth: int, inner: Any = 1) -> Any:
    value = inner
    for _ in range(depth):
        value = [value]
    return value


def stored(harness: Harness, table: sa.Table = runs) -> list[dict[str, Any]]:
    database = Database(harness.settings.database_url)
    with database.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(table)).mappings()]
    database.dispose()
    return rows


@pytest.mark.parametrize(
    "header",
    [
        b"t=\xc2\xb2,v1=00",  # "²" (as UTF-8 bytes; the server reads headers as latin-1)
        "t=²,v1=00".encode("latin-1"),
        b"t=" + b"9" * 400 + b",v1=00",
        b"t=" + b"9" * 5000 + b",v1=00",
        b"t=1000,v1=\xc3\xa90",
        b"t=1000,v1=\xe9",
    ],
    ids=[
        "superscript-utf8",
        "superscript-latin1",
        "400-digits",
        "5000-digits",
        "v1-utf8",
        "v1-latin1",
    ],
)
def test_a_hostile_signature_header_is_401(harness: Harness, header: bytes) -> None:
    client = client_of(harness)
    raw = json.dumps(harness.failure()).encode()
    answer = client.post("/v1/failures", content=raw, headers=[(signing.HEADER.encode(), header)])
    assert "malformed" in problem(answer, 401)["detail"]


def signed_post(client: TestClient, raw: bytes) -> Any:
    headers = {signing.HEADER: signing.sign(raw, INTAKE_SECRET)}
    return client.post("/v1/failures", content=raw, headers=headers)


def test_json_nested_100000_deep_is_422(harness: Harness) -> None:
    client = client_of(harness)
    harness.connect(client)
    for raw in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
        body = problem(signed_post(client, raw), 422)
        assert body["problems"] == ["nested deeper than 32 levels"]
    assert stored(harness) == []


@pytest.mark.parametrize(
    "raw",
    [
        b'"\\ud800"',  # an escaped lone surrogate
        b'"\xed\xa0\x80"',  # the same, as raw (invalid) UTF-8 bytes
        b'"\\udc00\\ud800"',  # a low surrogate before a high one
    ],
    ids=["escaped", "raw-bytes", "reversed-pair"],
)
@pytest.mark.parametrize("where", ["event_id", "message", "body"])
def test_a_lone_surrogate_is_422_with_escaped_json(
    harness: Harness, raw: bytes, where: str
) -> None:
    client = client_of(harness)
    harness.connect(client)
    text = json.dumps(harness.failure())
    if where == "event_id":
        text = text.replace('"evt-1"', raw.decode("latin-1"))
    else:
        error = '"error": {"message": ' + raw.decode("latin-1")
        if where == "body":
            error = '"error": {"body": ' + raw.decode("latin-1") + ', "message": "x"'
        text = text.replace(
            '"error": {"message": "Fel vid export: Konto \\"3001\\" \\u00e4r inte aktivt"', error
        )
    body = text.encode("latin-1")
    assert raw in body
    answer = problem(signed_post(client, body), 422)
    assert answer["problems"], answer
    assert stored(harness) == []


@pytest.mark.parametrize("depth", [40, 250, 600, 999])
def test_an_error_body_nested_deep_is_422(harness: Harness, depth: int) -> None:
    client = client_of(harness)
    harness.connect(client)
    failure = harness.failure()
    failure["error"]["body"] = "BODY"
    deep = "[" * depth + "1" + "]" * depth  # json.dumps itself gives up before 999
    raw = json.dumps(failure).replace('"BODY"', deep).encode()
    body = problem(signed_post(client, raw), 422)
    assert body["problems"] == ["nested deeper than 32 levels"]
    assert stored(harness) == []


def test_an_error_body_as_deep_as_allowed_is_accepted_and_worked(harness: Harness) -> None:
    with harness.client() as client:
        harness.connect(client)
        failure = harness.failure()
        failure["error"]["body"] = {"ErrorInformation": nested(25, {"message": "x"})}
        answer = post_failure(client, failure)
        assert answer.status_code == 202, answer.text
        run = wait_for(client, answer.json()["run_id"])
    assert run["state"] == "done"


def test_offset_and_limit_are_bounded(harness: Harness) -> None:
    client = client_of(harness)
    for params in (
        {"offset": "100000000000000000000"},
        {"offset": str(2**63)},
        {"offset": "-1"},
        {"limit": "100000000000000000000"},
        {"limit": "0"},
    ):
        answer = client.get("/v1/runs", headers=AUTH, params=params)
        problem(answer, 422)
    assert client.get("/v1/runs", headers=AUTH, params={"offset": "1000000"}).status_code == 200


def test_a_lone_surrogate_refresh_token_changes_nothing(harness: Harness) -> None:
    client = client_of(harness)
    raw = b'{"label":"L","refresh_token":"\\ud800"}'
    answer = client.put(
        "/v1/connections/x2", content=raw, headers=AUTH | {"Content-Type": "application/json"}
    )
    problem(answer, 422)
    assert stored(harness, connections) == []
    assert client.get("/v1/connections/x2", headers=AUTH).status_code == 404


def test_a_refused_update_changes_nothing(harness: Harness) -> None:
    client = client_of(harness)
    harness.connect(client)  # has a refresh token already: importing another is refused
    path = f"/v1/connections/{harness.connection_id}"
    before = client.get(path, headers=AUTH).json()
    answer = client.put(
        path,
        headers=AUTH,
        json={"label": "Renamed", "policy": {"activate_account": "never"}, "refresh_token": "t"},
    )
    problem(answer, 409)
    after = client.get(path, headers=AUTH).json()
    assert after == before | {"reconnect_url": after["reconnect_url"]}


@pytest.mark.parametrize(
    "raw",
    [b'{"label":"\\ud800"}', b'{"label":"\xed\xa0\x80"}', b"[" * 50_000 + b"]" * 50_000],
    ids=["escaped", "raw-bytes", "deep"],
)
def test_any_v1_json_body_is_checked_like_intake(harness: Harness, raw: bytes) -> None:
    client = client_of(harness)
    headers = AUTH | {"Content-Type": "application/json"}
    problem(client.put("/v1/connections/x3", content=raw, headers=headers), 422)
    problem(client.post("/v1/runs/some-run/apply", content=raw, headers=headers), 422)
    assert stored(harness, connections) == []


def test_database_files_are_created_private(harness: Harness) -> None:
    with harness.client() as client:
        harness.connect(client)
        path = Path(str(sa.engine.make_url(harness.settings.database_url).database))
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(f.exists() for f in files)
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
    assert modes == dict.fromkeys(modes, 0o600)


def test_a_failure_stored_but_unreadable_settles_failed_with_a_callback(harness: Harness) -> None:
    """A run whose stored failure cannot be read back (what intake once let in): ``failed``,
    with the reason and a report, and its callback sent; never ``running`` for ever."""
    queued = TestClient(harness.app(worker_concurrency=0))
    harness.connect(queued)
    run_id = post_failure(queued, harness.failure(callback=True)).json()["run_id"]
    poison = harness.failure(callback=True)
    poison["error"]["body"] = nested(250)
    database = Database(harness.settings.database_url)
    with database.engine.begin() as conn:
        conn.execute(runs.update().where(runs.c.id == run_id).values(failure=json.dumps(poison)))
    database.dispose()
    with harness.client() as client:
        run = wait_for(client, run_id, ("done",))
        deadline = time.monotonic() + 10
        while not harness.receiver.received and time.monotonic() < deadline:
            time.sleep(0.02)
    assert (run["state"], run["outcome"]) == ("done", "failed")
    assert run["state_reason"].startswith("the run could not be completed")
    assert run["report"]["outcome"] == "failed"
    assert run["report"]["event_id"] == "evt-1"
    (callback,) = harness.receiver.bodies()
    assert (callback["run_id"], callback["outcome"]) == (run_id, "failed")


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("apply", {"approved_by": "\u001e"}),
        ("apply", {"approved_by": "  "}),
        ("reject", {"rejected_by": "Eva", "reason": "\t"}),
        ("reject", {"rejected_by": "\u2003", "reason": "no"}),
    ],
)
def test_a_blank_reviewer_or_reason_is_a_documented_400(
    harness: Harness, action: str, body: dict[str, str]
) -> None:
    """Found by the fuzzing: a name of whitespace (U+001E too) is refused by the review with a
    400 the OpenAPI did not document."""
    client = client_of(harness)
    answer = client.post(f"/v1/runs/some-run/{action}", headers=AUTH, json=body)
    assert problem(answer, 400)["detail"].startswith(("a review needs", "a rejection needs"))
    documented = client.get("/openapi.json").json()["paths"][f"/v1/runs/{{run_id}}/{action}"]
    assert "400" in documented["post"]["responses"]


def test_an_empty_refresh_token_is_422_not_a_connection_that_500s_later(
    harness: Harness,
) -> None:
    """Found by the long fuzzing: an empty token was stored, and every access-token request
    for the connection then raised inside authlib."""
    client = client_of(harness)
    answer = client.put(
        "/v1/connections/x4", headers=AUTH, json={"label": "L", "refresh_token": ""}
    )
    problem(answer, 422)
    assert client.get("/v1/connections/x4", headers=AUTH).status_code == 404


@pytest.fixture(params=DIALECTS)
def on_both(request: pytest.FixtureRequest, harness: Harness) -> Iterator[Harness]:
    with on_dialect(harness, request.param) as on_it:
        yield on_it


@pytest.mark.parametrize("where", ["event_id", "connection_id", "message", "key"])
def test_a_nul_character_in_a_failure_is_422_on_either_database(
    on_both: Harness, where: str
) -> None:
    client = client_of(on_both)
    on_both.connect(client)
    failure = on_both.failure()
    if where == "message":
        failure["error"]["message"] = "Konto\x00 3001"
    elif where == "key":
        failure["export"]["note\x00"] = "x"
    else:
        failure[where] = f"{failure[where]}\x00"
    answer = problem(signed_post(client, json.dumps(failure).encode()), 422)
    assert "NUL character" in answer["problems"][0], answer
    assert stored(on_both) == []
    assert signed_post(client, json.dumps(on_both.failure()).encode()).status_code == 202


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/runs/run%00"),
        ("GET", "/v1/runs?connection=rest%00"),
        ("GET", "/v1/connections/rest%00"),
        ("PUT", "/v1/connections/rest%00"),
        ("POST", "/v1/connections/rest%00/access-token"),
        ("GET", "/v1/connections/rest%00/authorize?expires=1&sig=x"),
        ("GET", "/oauth/callback?state=s%00&code=c"),
        ("GET", "/console/runs/run%00"),
    ],
)
def test_a_nul_character_in_the_address_is_422_on_either_database(
    on_both: Harness, method: str, path: str
) -> None:
    client = client_of(on_both)
    answer = client.request(method, path, headers=AUTH, json={"label": "L"})
    assert "NUL character" in problem(answer, 422)["problems"][0]
    assert stored(on_both, connections) == []


def test_a_nul_character_in_a_v1_json_body_is_422_on_either_database(on_both: Harness) -> None:
    client = client_of(on_both)
    answer = client.put("/v1/connections/x3", headers=AUTH, json={"label": "L\x00"})
    assert "NUL character" in problem(answer, 422)["problems"][0]
    assert stored(on_both, connections) == []
