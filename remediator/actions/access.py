"""Access denied, scope or licence missing: look whether the cause is still there.

Nothing here changes Fortnox. The connection's scopes show a missing scope at once; a missing
licence shows when the next step reads the books (Fortnox refuses the read); whether the user
may book shows only when the voucher is sent (Fortnox refuses the POST, which books nothing).
Such a refusal is recognised by the engine as its cause and reported with that cause's
instructions, so the re-send after this step is also the check.
"""

from __future__ import annotations

from remediator.actions.base import Context, step, text
from remediator.fortnox import FortnoxAPIError, Me
from remediator.kinds import ErrorKind
from remediator.report import Step, StepStatus

REQUIRED_SCOPE = "bookkeeping"


async def _me(ctx: Context) -> Me | None:
    try:
        return await ctx.client.me()
    except FortnoxAPIError:  # without the profile scope (or any licence) /3/me is refused too
        return None


def _who(me: Me | None) -> str:
    if me is None:
        return ""
    return " ".join(part for part in (me.name, f"<{me.email}>" if me.email else None) if part)


async def diagnose_access(ctx: Context, _args: dict[str, str]) -> Step:
    scopes = list(ctx.connection.scopes)
    me = await _me(ctx)
    who = _who(me)
    if who:
        ctx.facts["user"] = who
    observed = {
        "scopes": scopes,
        "user": who or None,
        "sys_admin": me.sys_admin if me else None,
    }
    if scopes and REQUIRED_SCOPE not in scopes:
        return step(
            "diagnose_access",
            StepStatus.NEEDS_MANUAL,
            text(
                "Kopplingen saknar behörigheten för bokföring.",
                "The connection lacks the bookkeeping scope.",
            ),
            reason=f"the connection's scopes lack {REQUIRED_SCOPE}",
            observed=observed,
            manual=ctx.instructions(ErrorKind.SCOPE_MISSING, {}),
        )
    return step(
        "diagnose_access",
        StepStatus.OK,
        text(
            "Kopplingen har behörigheten för bokföring. Saknas licensen eller användarens rätt "
            "att bokföra fortfarande, visar Fortnox det när bokföringen läses eller "
            "Z-rapporten skickas.",
            "The connection has the bookkeeping scope. Should the licence or the user's right "
            "to book still be missing, Fortnox shows it when the books are read or the Z-report "
            "is sent.",
        ),
        observed=observed,
    )
