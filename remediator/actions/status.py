"""Fortnox unavailable: check whether it answers again; nothing to change.

Under a company's turn, an answer Fortnox gave us for the company a moment ago (within
``ANSWERED_SECONDS``, the session memory keeps when) is that check: a burst of such failures
asks once, not once per failure. A dry run (no memory) always asks.
"""

from __future__ import annotations

from remediator.actions.base import Context, step, text
from remediator.fortnox import FortnoxAPIError, FortnoxTransportError, RateLimited, ServerError
from remediator.report import Step, StepStatus

# How recent an answer of Fortnox for the company shows that it answers again.
ANSWERED_SECONDS = 10.0


async def fortnox_status(ctx: Context, _args: dict[str, str]) -> Step:
    memory = ctx.client.memory
    ago = memory.answered_within(ANSWERED_SECONDS) if memory is not None else None
    if ago is not None:
        return step(
            "fortnox_status",
            StepStatus.OK,
            text("Fortnox svarar igen.", "Fortnox answers again."),
            observed={"available": True, "answered_seconds_ago": round(ago, 1)},
        )
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
