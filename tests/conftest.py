"""Shared fixtures: isolated settings, an encrypted store on a temporary SQLite file,
``database_url``: a fresh database on each dialect (SQLite, and PostgreSQL when configured),
and ``open_rig``: the engine on the in-process sandbox, the one Fortnox stand-in of the suite."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from remediator.runtime import open_store
from remediator.sandbox import SandboxState
from remediator.settings import Settings
from remediator.storage import Connection, ConnectionStore, Database
from tests import postgres
from tests.e2e.support import OpenRig, Rig, Wrap

API = "https://api.fortnox.test/3"
OAUTH = "https://apps.fortnox.test/oauth-v1"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's environment or config file."""
    for name in list(__import__("os").environ):
        if name.startswith("REMEDIATOR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def open_rig(tmp_path: Path) -> AsyncIterator[OpenRig]:
    """Opens rigs (engine, runtime and sandbox for one restaurant), closed after the test."""
    opened: list[Rig] = []

    async def make(state: SandboxState, wrap: Wrap | None = None) -> Rig:
        workdir = tmp_path / f"rig{len(opened)}"
        workdir.mkdir()
        rig = Rig.open(state, workdir, wrap)
        opened.append(rig)
        return rig

    yield make
    for rig in opened:
        await rig.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a schema of its own on the test PostgreSQL server
    (dropped after the test). Storage tests take this to run on both dialects."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'remediator.db'}"
        return
    with postgres.fresh_schema(postgres.require()) as url:
        yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """``database_url`` opened (created at the newest schema), on each dialect."""
    opened = Database(database_url)
    yield opened
    opened.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if postgres.SKIPPED in str(report.longrepr)
    ]
    if not skipped:
        return
    terminalreporter.section("PostgreSQL tests SKIPPED", sep="!", red=True, bold=True)
    terminalreporter.line(
        f"{len(skipped)} tests on PostgreSQL did not run: {postgres.ENV} is not set.", red=True
    )
    terminalreporter.line(f"To run them: {postgres.HOW_TO_RUN}", bold=True)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        fortnox_api_url=API,
        fortnox_oauth_url=OAUTH,
        client_id="client-1",
        client_secret=SecretStr("client-secret-value"),
        redirect_uri="https://remediator.test/oauth/callback",
        database_url=f"sqlite:///{tmp_path / 'remediator.db'}",
        secret_key=SecretStr(Fernet.generate_key().decode()),
        key_file=tmp_path / "unused.key",
    )


@pytest.fixture
def store(settings: Settings) -> ConnectionStore:
    return open_store(settings)


def connection(
    connection_id: str = "rest-1",
    *,
    access: str | None = "access-token-old",
    valid_for: float = 3600,
    refresh: str | None = "refresh-token-1",
    tenant: str | None = "111111",
) -> Connection:
    """A connection whose access token is valid for ``valid_for`` seconds (negative: expired)."""
    return Connection(
        id=connection_id,
        label=f"Restaurant {connection_id}",
        client_id="client-1",
        tenant_id=tenant,
        scopes=("bookkeeping", "companyinformation"),
        access_token=SecretStr(access) if access else None,
        access_expires_at=time.time() + valid_for if access else None,
        refresh_token=SecretStr(refresh) if refresh else None,
    )
