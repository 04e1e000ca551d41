"""The demo: for each of the six Backoffice errors, make the error really happen in the
sandbox, then explain → plan (no write) → fix → fix again (no write) → the report in Swedish.

A door into the engine like the CLI and the service: no remediation logic of its own.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from pydantic import SecretStr

from remediator.failure import ExportFailure
from remediator.fortnox import ConsentRequired, FortnoxAPIError, Voucher
from remediator.report import Outcome, Report
from remediator.runtime import Runtime, open_runtime
from remediator.sandbox import Sandbox
from remediator.settings import Settings
from remediator.storage import Connection

SCENARIOS: dict[str, tuple[Outcome, Outcome]] = {
    "series_not_manual": (Outcome.FIXED, Outcome.NOTHING_TO_FIX),
    "chart_of_accounts_missing": (Outcome.MANUAL_ACTION_REQUIRED, Outcome.MANUAL_ACTION_REQUIRED),
    "account_inactive": (Outcome.FIXED, Outcome.NOTHING_TO_FIX),
    "series_missing": (Outcome.FIXED, Outcome.NOTHING_TO_FIX),
    "access_denied": (Outcome.MANUAL_ACTION_REQUIRED, Outcome.MANUAL_ACTION_REQUIRED),
    "connection_invalidated": (Outcome.MANUAL_ACTION_REQUIRED, Outcome.MANUAL_ACTION_REQUIRED),
}


@dataclass
class Episode:
    """One scenario's run through the demo."""

    scenario: str
    error: str
    kind: str
    plan: Report
    fix: Report
    again: Report
    plan_writes: int
    fix_writes: int
    again_writes: int

    @property
    def as_expected(self) -> bool:
        first, second = SCENARIOS[self.scenario]
        return (
            self.plan_writes == 0
            and self.again_writes == 0
            and self.fix.outcome is first
            and self.again.outcome is second
        )


def demo_settings(sandbox: Sandbox, workdir: Path) -> Settings:
    client = sandbox.world.state.clients[0]
    return Settings(
        fortnox_api_url="http://sandbox/3",
        fortnox_oauth_url="http://sandbox/oauth-v1",
        client_id=client.client_id,
        client_secret=SecretStr(client.client_secret),
        database_url=f"sqlite:///{workdir / 'demo.db'}",
        secret_key=SecretStr(Fernet.generate_key().decode()),
        key_file=workdir / "unused.key",
    )


def connect(runtime: Runtime, sandbox: Sandbox) -> Connection:
    """Register the restaurant's connection with the grant the scenario ships."""
    example = sandbox.example("z_report")
    grant = next(g for g in sandbox.world.state.grants if g.name == example["grant"])
    return runtime.store.add(
        Connection(
            id=example["restaurant"]["id"],
            label=example["restaurant"]["name"],
            client_id=grant.client_id,
            tenant_id=grant.tenant_id,
            refresh_token=SecretStr(grant.refresh_token),
        )
    )


async def export_z_report(
    runtime: Runtime, sandbox: Sandbox, connection: Connection
) -> ExportFailure:
    """Do what the Backoffice does: post the Z-report; turn Fortnox's refusal into a failure."""
    example = sandbox.example("z_report")
    voucher = Voucher.model_validate(example["voucher"])
    client = runtime.connector.client(connection, read_only=False)
    error: dict[str, Any]
    try:
        year = await client.financial_year_for(voucher.transaction_date)
        await client.create_voucher(voucher, year.id if year else 0)
    except ConsentRequired:
        error = {"message": "Kopplingen har invaliderats av Fortnox"}
    except FortnoxAPIError as err:
        error = {
            "message": f"Fel vid export: {err.message}",
            "code": err.code,
            "http_status": err.status,
        }
    else:
        raise RuntimeError("the Z-report was accepted: the scenario did not fail")
    return ExportFailure.model_validate(
        {
            "event_id": f"demo-{connection.id}",
            "restaurant": example["restaurant"],
            "connection_id": connection.id,
            "export": {
                "kind": "z_report",
                "id": example["export_id"],
                "date": example["date"],
                "voucher_series": voucher.voucher_series,
                "voucher": example["voucher"],
            },
            "error": error,
        }
    )


def changes(sandbox: Sandbox) -> int:
    """Writes the sandbox accepted (a refused one, such as a voucher POST Fortnox refuses
    because the user still may not book, changes nothing)."""
    return len([w for w in sandbox.writes() if w["status"] is not None and w["status"] < 400])  # noqa: PLR2004


async def run_scenario(name: str) -> Episode:
    sandbox = Sandbox.from_scenario(name)
    with tempfile.TemporaryDirectory() as tmp:
        runtime = open_runtime(demo_settings(sandbox, Path(tmp)), transport=sandbox.transport())
        try:
            failure = await export_z_report(runtime, sandbox, connect(runtime, sandbox))
            kind = runtime.catalogue.classify_failure(failure).kind
            counted = changes(sandbox)
            plan = await runtime.engine.run(failure, mode="plan")
            plan_writes, counted = changes(sandbox) - counted, changes(sandbox)
            fix = await runtime.engine.run(failure, mode="apply", reviewed=True)
            fix_writes, counted = changes(sandbox) - counted, changes(sandbox)
            again = await runtime.engine.run(failure, mode="apply", reviewed=True)
            again_writes = changes(sandbox) - counted
        finally:
            await runtime.aclose()
    return Episode(
        name, failure.error.message, kind, plan, fix, again, plan_writes, fix_writes, again_writes
    )


async def example_failure(name: str) -> ExportFailure:
    """The failure the Backoffice reports for scenario ``name``: its Z-report really posted to
    the scenario's sandbox (in-process), and Fortnox's refusal as the error."""
    sandbox = Sandbox.from_scenario(name)
    with tempfile.TemporaryDirectory() as tmp:
        runtime = open_runtime(demo_settings(sandbox, Path(tmp)), transport=sandbox.transport())
        try:
            return await export_z_report(runtime, sandbox, connect(runtime, sandbox))
        finally:
            await runtime.aclose()


async def run_demo() -> tuple[list[Episode], float]:
    started = time.monotonic()
    episodes = [await run_scenario(name) for name in SCENARIOS]
    return episodes, time.monotonic() - started
