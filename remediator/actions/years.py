"""Resolve the financial year of the export's date: accounts and series exist per year."""

from __future__ import annotations

from remediator.actions.base import Context, step, text
from remediator.kinds import ErrorKind
from remediator.report import Step, StepStatus


async def financial_year(ctx: Context, _args: dict[str, str]) -> Step:
    day = ctx.failure.export.date
    year = await ctx.client.financial_year_for(day)
    if year is None:
        return step(
            "financial_year",
            StepStatus.NEEDS_MANUAL,
            text(
                f"Det finns inget räkenskapsår i Fortnox som omfattar {day}.",
                f"Fortnox has no financial year covering {day}.",
            ),
            observed={"financial_year": None},
            reason="no financial year covers the date",
            manual=ctx.instructions(ErrorKind.FINANCIAL_YEAR_MISSING, {}),
        )
    ctx.year = year
    span = f"{year.from_date} – {year.to_date}"
    return step(
        "financial_year",
        StepStatus.OK,
        text(
            f"Räkenskapsår {span} (id {year.id}) omfattar {day}.",
            f"Financial year {span} (id {year.id}) covers {day}.",
        ),
        observed={
            "financial_year": {"id": year.id, "from": str(year.from_date), "to": str(year.to_date)}
        },
    )
