"""The signed intake: signatures, size, validation, unknown connections, idempotency, storage
before the answer."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from remediator import signing
from remediator.storage import Connection, Database
from remediator.storage.db import runs
from tests import postgres
from tests.service.conftest import AUTH, INTAKE_SECRET, Harness, TestClient, post_failure
from tests.storage.meeting import meeting_at_insert


def stored_runs(harness: Harness) -> list[dict[str, object]]:
    database = Database(harness.settings.database_url)
    with database.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(runs)).mappings()]
    database.dispose()
    return rows


def test_a_signed_failure_is_stored_before_the_202(harness: Harness) -> None:
    app = harness.app()
    client = TestClient(app)  # no lifespan: no worker touches the run
    harness.connect(client)
    answer = post_failure(client, harness.failure())
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["duplicate"] is False
    assert body["state"] == "queued"
    (row,) = stored_runs(harness)
    assert (row["id"], row["state"], row["origin"], row["kind"]) == (
        body["run_id"],
        "queued",
        "service",
        "account_inactive",
    )
    assert json.loads(str(row["failure"]))["event_id"] == "evt-1"
    run = client.get(body["url"], headers=AUTH).json()
    assert (run["state"], run["report"], run["export_date"]) == ("queued", None, "2026-03-02")


def test_the_same_event_again_is_200_with_the_same_run(harness: Harness) -> None:
    client = TestClient(harness.app())
    harness.connect(client)
    first = post_failure(client, harness.failure())
    again = post_failure(client, harness.failure())
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["run_id"] == first.json()["run_id"]
    assert again.json()["duplicate"] is True
    assert len(stored_runs(harness)) == 1


def test_signatures_are_checked_over_the_raw_body(harness: Harness) -> None:
    client = TestClient(harness.app())
    harness.connect(client)
    raw = json.dumps(harness.failure()).encode()
    good = signing.sign(raw, "intake-secret-for-tests")
    cases = {
        "wrong secret": {signing.HEADER: signing.sign(raw, "not-the-secret")},
        "stale": {
            signing.HEADER: signing.sign(raw, "intake-secret-for-tests", int(time.time()) - 301)
        },
        "missing": {},
        "malformed": {signing.HEADER: "v1=abc"},
    }
    for name, headers in cases.items():
        answer = client.post("/v1/failures", content=raw, headers=headers)
        assert answer.status_code == 401, name
    altered = raw.replace(b"2026-03-02", b"2026-03-03", 1)
    answer = client.post("/v1/failures", content=altered, headers={signing.HEADER: good})
    assert answer.status_code == 401
    assert "does not match" in answer.json()["detail"]
    assert stored_runs(harness) == []
    answer = client.post("/v1/failures", content=raw, headers={signing.HEADER: good})
    assert answer.status_code == 202


def test_a_body_over_one_mebibyte_is_413_before_anything_else(harness: Harness) -> None:
    client = TestClient(harness.app())
    big = harness.failure()
    big["error"]["body"] = "x" * (1024 * 1024)
    answer = post_failure(client, big)
    assert answer.status_code == 413
    unsigned = client.post("/v1/failures", content=b"x" * (1024 * 1024 + 1))
    assert unsigned.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the size is counted as it arrives
        for _ in range(20):
            yield b"x" * 65536

    streamed = client.post("/v1/failures", content=chunks())
    assert streamed.status_code == 413
    assert stored_runs(harness) == []


def test_invalid_failures_are_422_listing_every_problem(harness: Harness) -> None:
    client = TestClient(harness.app())
    harness.connect(client)
    answer = post_failure(client, b"{not json")
    assert answer.status_code == 422
    assert answer.json()["problems"][0].startswith("not JSON")
    bad = harness.failure()
    del bad["event_id"]
    bad["export"]["date"] = "yesterday"
    bad["surprise"] = 1
    answer = post_failure(client, bad)
    assert answer.status_code == 422
    problems = answer.json()["problems"]
    assert any(p.startswith("event_id: required") for p in problems)
    assert any(p.startswith("export.date: not a date") for p in problems)
    assert any(p.startswith("surprise: not a known field") for p in problems)
    assert stored_runs(harness) == []


def test_an_unknown_connection_is_422_saying_so(harness: Harness) -> None:
    client = TestClient(harness.app())
    answer = post_failure(client, harness.failure())
    assert answer.status_code == 422
    expected = (
        f"connection_id: {harness.connection_id!r} is not a known connection (register "
        f"it first: PUT /v1/connections/{harness.connection_id})"
    )
    assert answer.json() == {"detail": "unknown connection_id", "problems": [expected]}
    assert stored_runs(harness) == []


# Signs a failure, posts it, and returns the service's answer.
Send = Callable[[dict[str, object]], Awaitable[httpx.Response]]


def intake_only(harness: Harness) -> FastAPI:
    """The service without workers, with the harness's connection registered."""
    app = harness.app(worker_concurrency=0)
    app.state.service.runtime.store.add(
        Connection(id=harness.connection_id, label="L", client_id="c")
    )
    return app


@asynccontextmanager
async def poster(app: FastAPI) -> AsyncIterator[Send]:
    """Signed POSTs of failures to ``app`` from this event loop, free to overlap."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def send(body: dict[str, object]) -> httpx.Response:
            raw = json.dumps(body).encode()
            headers = {signing.HEADER: signing.sign(raw, INTAKE_SECRET)}
            return await client.post("/v1/failures", content=raw, headers=headers)

        yield send


async def test_concurrent_intakes_share_commits_and_stay_idempotent(harness: Harness) -> None:
    app = intake_only(harness)
    service = app.state.service
    bodies = [harness.failure(f"evt-{n % 20}", day=f"2026-02-{n % 20 + 1:02d}") for n in range(60)]
    stranger = harness.failure("evt-stranger") | {"connection_id": "nobody"}
    batches: list[int] = []
    accept_many = service.queue.accept_many

    def counted(intakes: list[object]) -> object:
        batches.append(len(intakes))
        return accept_many(intakes)

    service.queue.accept_many = counted
    async with poster(app) as send:
        answers = await asyncio.gather(*(send(body) for body in [*bodies, stranger]))
    codes = [answer.status_code for answer in answers]
    assert codes.count(202) == 20
    assert codes.count(200) == 40
    assert codes[-1] == 422
    by_event: dict[str, set[str]] = {}
    for body, answer in zip(bodies, answers, strict=False):
        by_event.setdefault(str(body["event_id"]), set()).add(answer.json()["run_id"])
    assert all(len(run_ids) == 1 for run_ids in by_event.values())
    assert len(stored_runs(harness)) == 20
    assert sum(batches) == 61
    assert max(batches) > 1  # requests that arrived together were written together


async def test_a_batch_the_database_refuses_is_503_for_each_of_its_failures_then_intake_goes_on(
    harness: Harness,
) -> None:
    app = intake_only(harness)
    service = app.state.service
    accept_many = service.queue.accept_many
    refused: list[int] = []

    def down_once(intakes: list[object]) -> object:
        if not refused:
            refused.append(len(intakes))
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return accept_many(intakes)

    service.queue.accept_many = down_once
    async with poster(app) as send:
        first = await send(harness.failure("evt-refused"))
        answers = await asyncio.gather(*(send(harness.failure(f"evt-{n}")) for n in range(3)))
        again = await send(harness.failure("evt-refused"))
    assert refused == [1]
    assert first.status_code == 503
    assert first.headers["retry-after"] == "5"
    assert first.json() == {
        "detail": "the database did not answer: send the request again",
        "problems": [],
    }
    assert [answer.status_code for answer in [*answers, again]] == [202, 202, 202, 202]
    assert sorted(str(row["event_id"]) for row in stored_runs(harness)) == [
        "evt-0",
        "evt-1",
        "evt-2",
        "evt-refused",
    ]


async def test_failures_arriving_while_a_batch_is_refused_each_get_the_error(
    harness: Harness,
) -> None:
    app = intake_only(harness)
    service = app.state.service
    batches: list[int] = []

    def down(intakes: list[object]) -> object:
        batches.append(len(intakes))
        time.sleep(0.05)
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    service.queue.accept_many = down
    async with poster(app) as send:
        answers = await asyncio.gather(*(send(harness.failure(f"evt-{n}")) for n in range(8)))
    assert [answer.status_code for answer in answers] == [503] * 8
    assert sum(batches) == 8
    assert max(batches) > 1  # those that came together were refused together
    assert stored_runs(harness) == []


def test_two_instances_receiving_one_event_at_once_answer_with_one_run(harness: Harness) -> None:
    with postgres.fresh_schema(postgres.require()) as url:
        apps = [harness.app(database_url=url, worker_concurrency=0) for _ in range(2)]
        clients = [TestClient(app) for app in apps]
        harness.connect(clients[0])
        engines = [app.state.service.queue._engine for app in apps]
        answers: list[httpx.Response] = []
        with meeting_at_insert(engines, timeout=10) as met:
            threads = [
                threading.Thread(
                    target=lambda c=c: answers.append(post_failure(c, harness.failure()))
                )
                for c in clients
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert met == [True, True]  # both looked for the event, found none, and inserted
        assert sorted(answer.status_code for answer in answers) == [200, 202]
        bodies = [answer.json() for answer in answers]
        assert bodies[0]["run_id"] == bodies[1]["run_id"]
        assert sorted(body["duplicate"] for body in bodies) == [False, True]
        database = Database(url)
        with database.engine.connect() as conn:
            assert conn.execute(sa.select(runs.c.id)).scalars().all() == [bodies[0]["run_id"]]
        database.dispose()
        for app in apps:
            app.state.service.runtime.store._db.dispose()
