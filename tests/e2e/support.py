"""The end-to-end rig: the engine, a runtime and the in-process sandbox wired as in the demo.

Every Backoffice error is made to really happen by posting the Z-report voucher to the sandbox,
exactly as the Backoffice would; the failure handed to the engine is built from Fortnox's
refusal. Kinds without a shipped scenario get their state built here from ``healthy``.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from remediator.demo import connect, demo_settings
from remediator.failure import ExportFailure
from remediator.fortnox import (
    ConsentRequired,
    FortnoxAPIError,
    RetryPolicy,
    SlidingWindowLimiter,
    Voucher,
    WriteOutcomeUnknown,
)
from remediator.kinds import ErrorKind, Kind
from remediator.playbook import Playbook
from remediator.report import Mode, Report
from remediator.runtime import Runtime, open_runtime
from remediator.sandbox import Sandbox, SandboxState, load_scenario
from remediator.sandbox.state import Consent, CostCentre, Scope, VoucherRefusal
from remediator.sandbox.world import Company
from remediator.settings import Settings
from remediator.storage import Connection

RATE_LIMIT, RATE_WINDOW = 25, 5.0  # Fortnox's, enforced by the connector and the sandbox
# A little more than the connector's window (5 s + 0.1 s margin): moving the shared clock this
# far frees every rate-limit slot both in the connector and in the sandbox.
NEXT_WINDOW = RATE_WINDOW + 0.2


Wrap = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


def healthy_state() -> SandboxState:
    return load_scenario("healthy")


def _tenant(state: SandboxState) -> Any:
    return state.tenants[0]


def _no_year_for_the_export(state: SandboxState) -> None:
    tenant = _tenant(state)
    tenant.financial_years = [y for y in tenant.financial_years if y.id != 2]  # 2026
    tenant.series.pop("2")
    tenant.charts.pop("2")


def _locked_through_march(state: SandboxState) -> None:
    _tenant(state).locked_until = date(2026, 3, 31)


def _without_bookkeeping_scope(state: SandboxState) -> None:
    state.grants[0].scopes = ["companyinformation", "settings", "profile"]


def _without_bookkeeping_licence(state: SandboxState) -> None:
    _tenant(state).licences = ["api"]


def _account_3001_missing(state: SandboxState) -> None:
    _tenant(state).charts["2"].missing = [3001]


def _unbalanced(state: SandboxState) -> None:
    rows = state.examples["z_report"]["voucher"]["VoucherRows"]
    rows[0]["Debit"] += 100.0  # "verifikation balanserar ej": the Backoffice's own data


ALL_SCOPES: list[Scope] = ["bookkeeping", "companyinformation", "settings", "profile"]


def _cost_centre_ks1_inactive(state: SandboxState) -> None:
    """Sales 25 % booked on cost centre KS1 (Kök), which is inactive; the connection may read
    and change cost centres (scope costcenter)."""
    _tenant(state).cost_centres = [CostCentre(code="KS1", description="Kök", active=False)]
    state.examples["z_report"]["voucher"]["VoucherRows"][2]["CostCenter"] = "KS1"
    state.grants[0].scopes = [*ALL_SCOPES, "costcenter"]


def _unknown_error(state: SandboxState) -> None:
    """Fortnox refuses the voucher with an error no playbook knows."""
    state.faults.voucher_refusal = VoucherRefusal(code=2000588, message="Fältet kunde inte tolkas")


BUILT: dict[Kind, Callable[[SandboxState], None]] = {
    ErrorKind.FINANCIAL_YEAR_MISSING: _no_year_for_the_export,
    ErrorKind.PERIOD_LOCKED: _locked_through_march,
    ErrorKind.SCOPE_MISSING: _without_bookkeeping_scope,
    ErrorKind.LICENSE_MISSING: _without_bookkeeping_licence,
    ErrorKind.ACCOUNT_MISSING: _account_3001_missing,
    ErrorKind.DIMENSION_INVALID: _cost_centre_ks1_inactive,
    ErrorKind.VOUCHER_INVALID: _unbalanced,
    ErrorKind.UNRECOGNIZED: _unknown_error,
}


def state_for(kind: Kind) -> SandboxState:
    """The sandbox state in which exporting the example Z-report fails with ``kind``.

    ``fortnox_unavailable`` starts healthy: the outage is a fault set while exporting.
    """
    if kind == ErrorKind.FORTNOX_UNAVAILABLE:
        return healthy_state()
    builder = BUILT.get(kind)
    if builder is None:
        return load_scenario(kind)
    state = healthy_state()
    builder(state)
    return SandboxState.model_validate(state.model_dump(mode="json", by_alias=True))


def rig_settings(sandbox: Sandbox, workdir: Path) -> Settings:
    return demo_settings(sandbox, workdir)


@dataclass
class Rig:
    """One restaurant, its connection in the store, and the sandbox behind it."""

    sandbox: Sandbox
    runtime: Runtime
    connection: Connection

    @classmethod
    def open(cls, state: SandboxState, workdir: Path, wrap: Wrap | None = None) -> Rig:
        """``wrap``: put a transport of the test's own between the connector and the sandbox."""
        workdir.mkdir(parents=True, exist_ok=True)  # the database's folder must exist
        sandbox = Sandbox(state)
        transport: httpx.AsyncBaseTransport = sandbox.transport()
        if wrap is not None:
            transport = wrap(transport)
        runtime = open_runtime(rig_settings(sandbox, workdir), transport=transport)
        runtime.connector.retry = RetryPolicy(
            attempts=3, initial_wait=0.001, max_wait=0.01, jitter=0
        )
        # The connector paces on the sandbox's clock, so moving that clock frees both windows.
        runtime.connector.limiter = SlidingWindowLimiter(
            RATE_LIMIT, RATE_WINDOW, 0.1, clock=sandbox.world.now
        )
        return cls(sandbox, runtime, connect(runtime, sandbox))

    async def close(self) -> None:
        await self.runtime.aclose()

    @property
    def example(self) -> dict[str, Any]:
        return dict(self.sandbox.example("z_report"))

    def voucher_body(self, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = copy.deepcopy(self.example["voucher"])
        return body | changes

    def playbook(self, kind: Kind) -> Playbook:
        found = self.runtime.catalogue.playbook(kind)
        assert found is not None, kind
        return found

    async def export(
        self, voucher: dict[str, Any] | None = None, *, outage: bool = False
    ) -> ExportFailure:
        """Post the Z-report as the Backoffice does and turn the refusal into a failure.

        ``outage``: Fortnox answers the voucher POST with a 500 (and is fine again after).
        """
        body = voucher or self.voucher_body()
        self.sandbox.advance(NEXT_WINDOW)
        if outage:
            self.sandbox.set_faults(error_rate={"/3/vouchers": 1.0})
        try:
            error = await self._post(Voucher.model_validate(body))
        finally:
            self.sandbox.set_faults()
        return self.failure(error, body)

    async def _post(self, voucher: Voucher) -> dict[str, Any]:
        client = self.runtime.connector.client(self.connection, read_only=False)
        try:
            year = await client.financial_year_for(voucher.transaction_date)
            await client.create_voucher(voucher, year.id if year else None)
        except ConsentRequired:
            return {"message": "Kopplingen har invaliderats av Fortnox"}
        except WriteOutcomeUnknown as err:
            if err.cause.startswith("HTTP"):
                return {"message": "Fel vid export: System exception", "http_status": 500}
            return {"message": f"Fel vid export: Timeout ({err.cause})"}
        except FortnoxAPIError as err:
            return {"message": f"Fel vid export: {err.message}", "code": err.code}
        raise AssertionError("the Z-report was accepted: the state does not make it fail")

    def failure(
        self, error: dict[str, Any], voucher: dict[str, Any] | None, **export: Any
    ) -> ExportFailure:
        example = self.example
        data: dict[str, Any] = {
            "event_id": f"e2e-{self.connection.id}-{example['export_id']}",
            "restaurant": example["restaurant"],
            "connection_id": self.connection.id,
            "export": {
                "kind": "z_report",
                "id": example["export_id"],
                "date": example["date"],
                "voucher_series": "F",
            }
            | export,
            "error": error,
        }
        if voucher is not None:
            data["export"]["voucher"] = voucher
        return ExportFailure.model_validate(data)

    async def run(
        self, failure: ExportFailure, mode: Mode, *, reviewed: bool = False
    ) -> tuple[Report, list[dict[str, Any]]]:
        """One engine run in a fresh rate-limit window: its report and the requests it made."""
        self.sandbox.advance(NEXT_WINDOW)
        seen = len(self.sandbox.requests)
        report = await self.runtime.engine.run(failure, mode=mode, reviewed=reviewed)
        return report, list(self.sandbox.requests)[seen:]

    @property
    def company(self) -> Company:
        """The restaurant's company in the sandbox (its books, per financial year)."""
        return next(iter(self.sandbox.world.companies.values()))

    def vouchers(self, key: str) -> list[dict[str, Any]]:
        """The vouchers of the 2026 year whose comments carry ``key`` (the export key) on a
        line of its own."""
        return [v for v in self.company.vouchers.get(2, []) if key in _lines(v["Comments"])]

    async def book(self, voucher: dict[str, Any]) -> dict[str, Any]:
        """Book ``voucher`` in Fortnox directly (someone else did: a person, another export)."""
        client = self.runtime.connector.client(self.connection, read_only=False)
        booked = await client.create_voucher(Voucher.model_validate(voucher), None)
        return booked.model_dump(by_alias=True)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


OpenRig = Callable[..., Awaitable[Rig]]  # the ``open_rig`` fixture (tests/conftest.py)


def writes(requests: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The requests that could change bookkeeping data, as (method, path)."""
    return [
        (r["method"], r["path"])
        for r in requests
        if r["path"].startswith("/3/") and r["method"] in ("POST", "PUT", "DELETE")
    ]


def api_calls(requests: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in requests if r["path"].startswith("/3/")]


# -- causes that clear: what a person did in Fortnox after the export failed ----------------


async def _books_as_healthy(rig: Rig) -> None:
    """The year exists, nothing is locked, every licence is there (as in ``healthy``)."""
    tenant = healthy_state().tenants[0]
    rig.sandbox.world.companies[tenant.tenant_id] = Company.from_tenant(tenant)


async def _may_book(rig: Rig) -> None:
    for user in rig.company.tenant.users:
        user.may_book = True


async def _scope_granted(rig: Rig) -> None:
    """The restaurant approved the connection again, this time with the bookkeeping scope
    (a consent in the sandbox, its code exchanged by the remediator as the service does)."""
    tenant = rig.company.tenant
    rig.sandbox.world.state.consent = Consent(
        tenant_id=tenant.tenant_id, user_id=tenant.users[0].id
    )
    client = rig.sandbox.world.state.clients[0].client_id
    code = rig.sandbox.world.new_code(
        client, ["bookkeeping", "companyinformation", "settings", "profile"]
    )
    assert code is not None
    await rig.runtime.connector.connect(rig.connection.id, code)


CLEARS: dict[Kind, Callable[[Rig], Awaitable[None]]] = {
    ErrorKind.FINANCIAL_YEAR_MISSING: _books_as_healthy,
    ErrorKind.PERIOD_LOCKED: _books_as_healthy,
    ErrorKind.LICENSE_MISSING: _books_as_healthy,
    ErrorKind.ACCESS_DENIED: _may_book,
    ErrorKind.SCOPE_MISSING: _scope_granted,
}
