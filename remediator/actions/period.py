"""Locked period: Fortnox has no API to unlock; read how far it is locked (the playbook's
instructions say what a person can do)."""

from __future__ import annotations

from remediator.actions.base import Context, step, text
from remediator.kinds import ErrorKind
from remediator.report import Step, StepStatus


async def locked_period(ctx: Context, _args: dict[str, str]) -> Step:
    day = ctx.failure.export.date
    locked = await ctx.client.locked_period()
    until = str(locked.end_date) if locked.end_date else None
    observed = {"locked_until": until}
    ctx.facts["locked_until"] = until or ""
    if not locked.locks(day):
        return step(
            "locked_period",
            StepStatus.OK,
            text(
                f"{day} ligger inte i en låst period (låst t.o.m. {until or '–'}).",
                f"{day} is not in a locked period (locked up to {until or '–'}).",
            ),
            observed=observed,
        )
    return step(
        "locked_period",
        StepStatus.NEEDS_MANUAL,
        text(
            f"Bokföringen är låst t.o.m. {until}; Z-rapporten för {day} kan inte bokföras.",
            f"The books are locked up to {until}; the Z-report for {day} cannot be booked.",
        ),
        observed=observed,
        reason=f"the books are locked up to {until}",
        manual=ctx.instructions(ErrorKind.PERIOD_LOCKED, {}),
    )
