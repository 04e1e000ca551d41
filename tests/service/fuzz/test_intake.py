"""Properties of the intake under any input: every answer is 202, 200, 401, 413 or 422 with a
JSON problem, and every failure accepted is settled by a worker."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediator import signing
from tests.service.conftest import AUTH, DIALECTS, INTAKE_SECRET, Harness, TestClient
from tests.service.fuzz.conftest import Served, served_on
from tests.service.fuzz.strategies import raw_bodies, signature_headers
from tests.service.fuzz.tally import TALLY, examples

INTAKE_ANSWERS = {200, 202, 401, 413, 422}
FUZZ = settings(
    max_examples=examples(ci=100, long=2000),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(params=DIALECTS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    """The service with its workers, on either database."""
    with served_on(request.param, tmp_path, workers=4) as both:
        yield both


def post(client: TestClient, raw: bytes, header: bytes) -> int:
    answer = client.post(
        "/v1/failures",
        content=raw,
        headers=[(signing.HEADER.encode(), header), (b"content-type", b"application/json")],
    )
    TALLY.saw(answer.status_code)
    assert answer.status_code in INTAKE_ANSWERS, (answer.status_code, answer.text[:300])
    body = answer.json()
    if answer.status_code >= 400:
        assert answer.content.isascii()
        assert isinstance(body["detail"], str)
        assert isinstance(body["problems"], list)
    elif answer.status_code == 202:
        TALLY.accepted += 1
    return int(answer.status_code)


def signs(header: bytes, raw: bytes) -> bool:
    """Whether ``header`` signs ``raw`` now: a ``t`` of ASCII digits within the tolerance and
    a ``v1`` that is its MAC, among parts of only ``t=`` and ``v1=`` (an oracle apart from
    ``remediator.signing``)."""
    text = header.decode("latin-1")
    if len(text) > 2048:
        return False
    parts = [part.strip().partition("=") for part in text.split(",")]
    stamps = [v for k, _, v in parts if k == "t" and v.isascii() and v.isdigit() and len(v) <= 12]
    if not stamps or abs(time.time() - int(stamps[-1])) > 300:
        return False
    mac = hmac.new(INTAKE_SECRET.encode(), stamps[-1].encode() + b"." + raw, hashlib.sha256)
    return any(k == "v1" and v.lower() == mac.hexdigest() for k, _, v in parts)


def unsettled(client: TestClient, timeout: float) -> int:
    """Runs still ``queued`` or ``running`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = sum(
            int(
                client.get("/v1/runs", headers=AUTH, params={"state": state, "limit": 1}).json()[
                    "total"
                ]
            )
            for state in ("queued", "running")
        )
        if not waiting or time.monotonic() > deadline:
            return waiting
        time.sleep(0.1)


def settled_all(client: TestClient) -> None:
    waiting = unsettled(client, timeout=120)
    TALLY.unsettled += waiting
    assert waiting == 0
    health = client.get("/healthz").json()
    assert health["status"] == "ok", health


@pytest.mark.slow
def test_any_signed_body_is_answered_in_kind_and_every_accepted_one_settles(
    served: tuple[Harness, TestClient],
) -> None:
    harness, client = served
    template = harness.failure()

    @FUZZ
    @given(raw=raw_bodies(template))
    def signed(raw: bytes) -> None:
        status = post(client, raw, signing.sign(raw, INTAKE_SECRET).encode())
        assert status != 401

    signed()
    settled_all(client)


@pytest.mark.slow
def test_any_signature_header_is_answered_in_kind(served: tuple[Harness, TestClient]) -> None:
    harness, client = served
    template = json.dumps(harness.failure()).encode()

    @FUZZ
    @given(data=st.data())
    def any_header(data: st.DataObject) -> None:
        raw = template.replace(b"evt-1", f"evt-{data.draw(st.integers(0, 10**6))}".encode())
        header = data.draw(signature_headers(raw, INTAKE_SECRET))
        status = post(client, raw, header)
        assert (status != 401) == signs(header, raw), header

    any_header()
    settled_all(client)
