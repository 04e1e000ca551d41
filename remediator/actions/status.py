"""Fortnox unavailable: check whether it answers again; nothing to change."""

from __future__ import annotations

from remediator.actions.base import Context, step, text
from remediator.fortnox import FortnoxAPIError, FortnoxTransportError, RateLimited, ServerError
from remediator.report import Step, StepStatus


async def fortnox_status(ctx: Context, _args: dict[str, str]) -> Step:
    try:
        await ctx.client.company_information()
    except (ServerError, RateLimited, FortnoxTransportError) as err:
        return step(
            "fortnox_status",
            StepStatus.FAILED,
            text(
                "Fortnox svarar fortfarande inte som det ska; försök igen senare.",
                "Fortnox still does not answer properly; try again later.",
            ),
            reason=str(err),
            observed={"available": False},
        )
    except FortnoxAPIError as err:
        return step(
            "fortnox_status",
            StepStatus.FAILED,
            text("Fortnox svarar, men nekar anropet.", "Fortnox answers, but refuses the request."),
            reason=str(err),
            observed={"available": True},
        )
    return step(
        "fortnox_status",
        StepStatus.OK,
        text("Fortnox svarar igen.", "Fortnox answers again."),
        observed={"available": True},
    )
