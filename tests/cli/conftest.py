"""The CLI against the bundled sandbox, in-process.

Settings come from ``REMEDIATOR_*`` variables, as in production; the only test seam is the
HTTP transport: ``remediator.cli.remediate.open_runtime`` (which ``plan``, ``apply``, ``fix``
and ``check`` call) is wrapped to pass the sandbox's in-process transport, the way the demo
wires it. No production code knows about tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from remediator.cli import cli, remediate
from remediator.demo import connect, export_z_report
from remediator.failure import ExportFailure
from remediator.runtime import Runtime, open_runtime
from remediator.sandbox import Sandbox


@dataclass
class Company:
    """A sandbox company whose export really failed, registered as a connection."""

    sandbox: Sandbox
    failure: ExportFailure
    failure_file: Path
    connection_id: str
    runner: CliRunner

    def invoke(self, *args: str, input: str | None = None) -> Result:  # noqa: A002 - click's name
        return self.runner.invoke(cli, list(args), input=input)

    def writes(self) -> list[dict[str, Any]]:
        return self.sandbox.writes()

    def json(self, *args: str) -> Any:
        result = self.invoke(*args, "--json")
        return json.loads(result.stdout)


def run(*args: str, input: str | None = None) -> Result:  # noqa: A002 - click's name
    """The ``remediator`` command, in-process."""
    return CliRunner().invoke(cli, list(args), input=input)


def sandbox_runtime(sandbox: Sandbox) -> Callable[[], Runtime]:
    return lambda: open_runtime(transport=sandbox.transport())


async def _reproduce(runtime: Runtime, sandbox: Sandbox) -> ExportFailure:
    try:
        return await export_z_report(runtime, sandbox, connect(runtime, sandbox))
    finally:
        await runtime.aclose()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings for a local database and key; no Fortnox reachable unless a company is made."""
    monkeypatch.setenv("REMEDIATOR_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("REMEDIATOR_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("REMEDIATOR_FORTNOX_API_URL", "http://sandbox/3")
    monkeypatch.setenv("REMEDIATOR_FORTNOX_OAUTH_URL", "http://sandbox/oauth-v1")


@pytest.fixture
def company(env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], Company]:
    """``company(scenario)``: the scenario's sandbox, its failed export in a file, and the CLI
    wired to that sandbox."""

    def make(scenario: str) -> Company:
        sandbox = Sandbox.from_scenario(scenario)
        client = sandbox.world.state.clients[0]
        monkeypatch.setenv("REMEDIATOR_CLIENT_ID", client.client_id)
        monkeypatch.setenv("REMEDIATOR_CLIENT_SECRET", client.client_secret)
        monkeypatch.setattr(remediate, "open_runtime", sandbox_runtime(sandbox))
        failure = asyncio.run(_reproduce(open_runtime(transport=sandbox.transport()), sandbox))
        path = tmp_path / f"{scenario}.json"
        path.write_text(failure.model_dump_json(by_alias=True), encoding="utf-8")
        return Company(sandbox, failure, path, failure.connection_id, CliRunner())

    return make
