"""The service against the in-process sandbox, with a local callback receiver.

``Harness.client()`` starts the app's lifespan (workers and callbacks run); intake and reads
work on an app whose lifespan has not started, which lets a test queue work before workers run.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from remediator import signing
from remediator.sandbox import Sandbox
from remediator.service import create_app
from remediator.service.logs import JsonFormatter
from remediator.settings import Settings
from tests import postgres

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 fork for its TestClient; this project is on httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient as TestClient  # noqa: PLC0414 - re-exported

INTAKE_SECRET = "intake-secret-for-tests"
CALLBACK_SECRET = "callback-secret-for-tests"
API_TOKEN = "api-token-for-tests"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
SETTLED = ("done", "awaiting_review", "awaiting_reconnect")
MESSAGES = {
    "account_inactive": 'Fel vid export: Konto "3001" är inte aktivt',
    "series_not_manual": "Fel vid export: Verifikationsserien är inte manuell (F)",
    "series_missing": 'Verifikationsserien "F - Kassa" finns inte',
    "chart_of_accounts_missing": "Fel vid export: Ogiltigt konto",
    "access_denied": "Access denied",
    "connection_invalidated": "Kopplingen har invaliderats av Fortnox",
    "healthy": "Fel vid export: System exception",
}


@dataclass
class Receiver:
    """A local callback receiver: records every POST; answers 500 to the first ``fail`` ones."""

    fail: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        if len(self.received) <= self.fail:
            return JSONResponse({"error": "try later"}, status_code=500)
        return JSONResponse({"ok": True})

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.handle, methods=["POST"])])

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@dataclass
class Harness:
    sandbox: Sandbox
    settings: Settings
    receiver: Receiver
    scenario: str

    def app(self, **overrides: Any) -> FastAPI:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        return create_app(
            settings,
            transport=self.sandbox.transport(),
            callback_transport=httpx.ASGITransport(app=self.receiver.app),
        )

    @contextmanager
    def client(self, app: FastAPI | None = None) -> Iterator[TestClient]:
        with TestClient(app or self.app()) as client:
            yield client

    @property
    def connection_id(self) -> str:
        return str(self.sandbox.example("z_report")["restaurant"]["id"])

    def connect(self, client: TestClient) -> None:
        """Register the restaurant's connection through the API, importing the grant's token."""
        example = self.sandbox.example("z_report")
        grant = next(g for g in self.sandbox.world.state.grants if g.name == example["grant"])
        answer = client.put(
            f"/v1/connections/{self.connection_id}",
            headers=AUTH,
            json={
                "label": example["restaurant"]["name"],
                "restaurant": example["restaurant"],
                "tenant_id": grant.tenant_id,
                "refresh_token": grant.refresh_token,
            },
        )
        assert answer.status_code == 201, answer.text

    def failure(
        self,
        event_id: str = "evt-1",
        *,
        day: str | None = None,
        message: str | None = None,
        callback: bool = False,
    ) -> dict[str, Any]:
        example = self.sandbox.example("z_report")
        day = day or example["date"]
        voucher = dict(example["voucher"]) | {
            "TransactionDate": day,
            "Description": f"Z-rapport {day}",
        }
        body: dict[str, Any] = {
            "event_id": event_id,
            "restaurant": example["restaurant"],
            "connection_id": self.connection_id,
            "export": {"kind": "z_report", "id": f"z-{day}", "date": day, "voucher": voucher},
            "error": {"message": message or MESSAGES[self.scenario]},
        }
        if callback:
            body["callback_url"] = "http://receiver.test/hook"
        return body

    def vouchers(self) -> list[dict[str, Any]]:
        tenant = next(iter(self.sandbox.world.companies.values()))
        return [v for year in tenant.vouchers.values() for v in year]


def post_failure(
    client: TestClient, body: dict[str, Any] | bytes, secret: str = INTAKE_SECRET, **kw: Any
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {signing.HEADER: signing.sign(raw, secret, **kw), "Content-Type": "application/json"}
    answer: httpx.Response = client.post("/v1/failures", content=raw, headers=headers)
    return answer


def wait_for(
    client: TestClient, run_id: str, states: tuple[str, ...] = SETTLED, timeout: float = 15
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = client.get(f"/v1/runs/{run_id}", headers=AUTH).json()
        if run["state"] in states:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {run['state']} after {timeout} s")
        time.sleep(0.02)


def wait_until(check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


LINK = re.compile(r"https?://\S+/authorize\?\S+")


def reconnect_link(report: dict[str, Any]) -> str:
    """The one reconnect link a report gives the restaurant (the same in Swedish and English),
    as path and query, ready for the TestClient."""
    steps = report["manual_steps"]
    found = {
        m.group(0).rstrip(".,;:)")
        for line in steps["sv"] + steps["en"]
        for m in LINK.finditer(line)
    }
    assert len(found) == 1, found
    link = urlsplit(found.pop())
    return f"{link.path}?{link.query}"


def service_settings(sandbox: Sandbox, directory: Path) -> Settings:
    client = sandbox.world.state.clients[0]
    return Settings(
        fortnox_api_url="http://sandbox/3",
        fortnox_oauth_url="http://sandbox/oauth-v1",
        client_id=client.client_id,
        client_secret=SecretStr(client.client_secret),
        redirect_uri="http://testserver/oauth/callback",
        public_url="http://testserver",
        database_url=f"sqlite:///{directory / 'service.db'}",
        secret_key=SecretStr(Fernet.generate_key().decode()),
        key_file=directory / "unused.key",
        intake_secret=SecretStr(INTAKE_SECRET),
        callback_secret=SecretStr(CALLBACK_SECRET),
        api_token=SecretStr(API_TOKEN),
        worker_concurrency=2,
        worker_poll_seconds=0.05,
        unavailable_retry_seconds=0.05,
        unavailable_retry_max_seconds=0.1,
        unavailable_retry_attempts=2,
        callback_retry_seconds=0.05,
        callback_retry_max_seconds=0.1,
        callback_attempts=3,
        retry_attempts=1,
        schedule_enabled=False,  # the scheduler's own tests turn it on (tests/service/test_jobs.py)
    )


def harness_for(scenario: str, directory: Path) -> Harness:
    sandbox = Sandbox.from_scenario(scenario)
    return Harness(sandbox, service_settings(sandbox, directory), Receiver(), scenario)


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return harness_for("account_inactive", tmp_path)


DIALECTS = ["sqlite", "postgresql"]


@contextmanager
def on_dialect(harness: Harness, dialect: str) -> Iterator[Harness]:
    """``harness`` on SQLite as it is, or on a fresh schema of the PostgreSQL server (skipped
    without one): the service on either database answers alike."""
    if dialect == "sqlite":
        yield harness
        return
    with postgres.fresh_schema(postgres.require()) as url:
        yield replace(harness, settings=harness.settings.model_copy(update={"database_url": url}))


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every log line of the test, JSON-formatted as the service writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)
