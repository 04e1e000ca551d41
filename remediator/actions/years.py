"""Resolve the financial year of the export's date: accounts and series exist per year."""

from __future__ import annotations

from remediator.actions.base import Context, manual, step, text
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
            manual=manual(
                [
                    (
                        f"Lägg upp räkenskapsåret som omfattar {day} i Fortnox (Fortnox rekommenderar "
                        "att räkenskapsår skapas i Fortnox, inte via integrationer), och kör sedan "
                        "exporten igen."
                    )
                ],
                [
                    (
                        f"Create the financial year covering {day} in Fortnox (Fortnox advises creating "
                        "years in its own interface, not through integrations), then export again."
                    )
                ],
            ),
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
