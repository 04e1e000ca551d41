"""Locked period: Fortnox has no API to unlock, so explain what a person can do."""

from __future__ import annotations

from remediator.actions.base import Context, manual, step, text
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
        manual=manual(
            [
                (
                    f"Perioden t.o.m. {until} är låst i Fortnox och kan inte låsas upp via API. Be er "
                    "redovisningskonsult låsa upp perioden (eller bokföra dagen för hand), och kör "
                    "sedan exporten igen."
                )
            ],
            [
                (
                    f"The period up to {until} is locked in Fortnox and cannot be unlocked through the "
                    "API. Ask your accountant to unlock it (or to book the day by hand), then export "
                    "again."
                )
            ],
        ),
    )
