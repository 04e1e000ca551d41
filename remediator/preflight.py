"""Preflight: the read-only checks of every playbook, for one company and date, to find what
would make the next export fail before it does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from remediator.actions import ACTIONS, Context
from remediator.bas import RESTAURANT_ACCOUNTS
from remediator.engine import guarded
from remediator.failure import ExportFailure
from remediator.kinds import ErrorKind
from remediator.report import Recognition, Step, StepStatus, Text
from remediator.runtime import Runtime
from remediator.trail import Audit

# Actions whose read-only checks say something about tomorrow's export, in order.
CHECKS = ("refresh_connection", "financial_year", "series_exists", "series_manual", "locked_period")


@dataclass(frozen=True)
class Finding:
    """What one check found; ``unavailable``: Fortnox did not answer it, so it says nothing
    about the company (try again later)."""

    check: str
    ok: bool
    text: Text
    unavailable: bool = False


def _probe_failure(connection_id: str, day: date, series: str) -> ExportFailure:
    return ExportFailure.model_validate(
        {
            "event_id": f"preflight-{connection_id}-{day}",
            "restaurant": {"id": connection_id, "name": connection_id},
            "connection_id": connection_id,
            "export": {
                "kind": "z_report",
                "id": f"preflight-{day}",
                "date": day.isoformat(),
                "voucher_series": series,
            },
            "error": {"message": "preflight"},
        }
    )


def _finding(step: Step) -> Finding:
    """The step as a finding; one that failed says why (Fortnox did not answer, or the
    error)."""
    if step.status is not StepStatus.FAILED:
        return Finding(
            step.action, step.status in (StepStatus.OK, StepStatus.SKIPPED), step.summary
        )
    why = step.reason or "?"
    if step.unavailable:
        text = Text(
            sv=f"Fortnox svarade inte, så det kunde inte kontrolleras; försök igen om en stund "
            f"({why}).",
            en=f"Fortnox did not answer, so this could not be checked; try again in a while "
            f"({why}).",
        )
        return Finding(step.action, ok=False, text=text, unavailable=True)
    summary = step.summary
    text = Text(sv=f"{summary.sv} ({why})", en=f"{summary.en} ({why})")
    return Finding(step.action, ok=False, text=text)


async def _accounts(ctx: Context) -> list[Finding]:
    if ctx.year is None:
        return []
    chart = {a.number: a for a in await ctx.client.accounts(ctx.year.id)}
    findings = []
    for number, name in RESTAURANT_ACCOUNTS.items():
        account = chart.get(number)
        if account is not None and not account.active:
            findings.append(
                Finding(
                    "account_active",
                    ok=False,
                    text=Text(
                        sv=f"Konto {number} ({account.description}) är inaktivt; en Z-rapport som "
                        "använder det nekas.",
                        en=f"Account {number} ({account.description}) is inactive; a Z-report using it "
                        "is refused.",
                    ),
                )
            )
        elif account is None:
            findings.append(
                Finding(
                    "account_exists",
                    ok=True,
                    text=Text(
                        sv=f"Standardkontot {number} {name} finns inte (ett problem bara om Backoffice "
                        "använder det).",
                        en=f"Standard account {number} {name} does not exist (a problem only if the "
                        "Backoffice uses it).",
                    ),
                )
            )
    return findings


async def preflight(
    runtime: Runtime, connection_id: str, day: date, series: str = "F"
) -> list[Finding]:
    """Run the checks read-only; a finding that is not ``ok`` would fail the export."""
    connection = runtime.store.get(connection_id)
    ctx = Context(
        failure=_probe_failure(connection_id, day, series),
        recognition=Recognition(kind=ErrorKind.UNRECOGNIZED, matched_by="none"),
        connection=connection,
        client=runtime.connector.client(connection, read_only=True, hook=Audit()),
        connector=runtime.connector,
        connections=runtime.store,
        mode="plan",
        policy=connection.policy or runtime.settings.policy,
        reviewed=False,
        reconnect_url=runtime.engine.reconnect_url(connection_id),
    )
    ctx.instructions = runtime.engine.instructions_for(ctx)
    findings: list[Finding] = []
    for name in CHECKS:
        steps = await guarded(ctx, name, {})
        findings.extend(_finding(step) for step in steps)
        if any(
            step.status in (StepStatus.FAILED, StepStatus.NEEDS_MANUAL) for step in steps
        ) and name in ("refresh_connection", "financial_year"):
            return findings
    return findings + await _accounts(ctx)


__all__ = ["ACTIONS", "Finding", "preflight"]
