"""Access denied, scope or licence missing: diagnose who must do what; nothing to change."""

from __future__ import annotations

from remediator.actions.base import Context, manual, step, text
from remediator.fortnox import FortnoxAPIError, Me
from remediator.kinds import ErrorKind
from remediator.report import Step, Steps, StepStatus

REQUIRED_SCOPE = "bookkeeping"
USERS_MENU = "Inställningar → Användare"


async def _me(ctx: Context) -> Me | None:
    try:
        return await ctx.client.me()
    except FortnoxAPIError:  # without the profile scope /3/me is refused too
        return None


def _who(me: Me | None) -> str:
    if me is None:
        return "den användare som kopplade Fortnox / the user who connected Fortnox"
    return " ".join(part for part in (me.name, f"<{me.email}>" if me.email else None) if part)


def _licence_steps() -> Steps:
    return manual(
        [
            (
                "Företaget saknar licens för Fortnox-modulen som exporten behöver (Bokföring och "
                "integrationslicens). Beställ licensen i Fortnox (kontots administratör), och kör "
                "sedan exporten igen."
            )
        ],
        [
            (
                "The company lacks the Fortnox licence the export needs (Bookkeeping and the "
                "integration licence). Order it in Fortnox (the account's administrator), then export "
                "again."
            )
        ],
    )


def _scope_steps(ctx: Context) -> Steps:
    return manual(
        [
            (
                f'Kopplingen saknar behörigheten "{REQUIRED_SCOPE}". Godkänn kopplingen på nytt via '
                f"länken: {ctx.reconnect_url}"
            )
        ],
        [
            (
                f'The connection lacks the "{REQUIRED_SCOPE}" scope. Approve the connection again '
                f"through the link: {ctx.reconnect_url}"
            )
        ],
    )


def _rights_steps(who: str) -> Steps:
    return manual(
        [
            (
                f"Be Fortnox-administratören ge {who} behörighet till Bokföring (att bokföra "
                f"verifikationer) under {USERS_MENU}."
            ),
            "Kör sedan exporten igen.",
        ],
        [
            (
                f"Ask the Fortnox administrator to give {who} the Bookkeeping right (to book "
                f"vouchers) under {USERS_MENU} (Settings → Users)."
            ),
            "Then export again.",
        ],
    )


async def diagnose_access(ctx: Context, _args: dict[str, str]) -> Step:
    kind = ctx.recognition.kind
    scopes = list(ctx.connection.scopes)
    me = await _me(ctx)
    observed = {
        "scopes": scopes,
        "user": _who(me) if me else None,
        "sys_admin": me.sys_admin if me else None,
    }
    if kind == ErrorKind.LICENSE_MISSING:
        return step(
            "diagnose_access",
            StepStatus.NEEDS_MANUAL,
            text("Företaget saknar licens i Fortnox.", "The company lacks a licence in Fortnox."),
            observed=observed,
            manual=_licence_steps(),
        )
    if scopes and REQUIRED_SCOPE not in scopes:
        return step(
            "diagnose_access",
            StepStatus.NEEDS_MANUAL,
            text(
                "Kopplingen saknar behörigheten för bokföring.",
                "The connection lacks the bookkeeping scope.",
            ),
            observed=observed,
            manual=_scope_steps(ctx),
        )
    return step(
        "diagnose_access",
        StepStatus.NEEDS_MANUAL,
        text(
            f"Fortnox-användaren {_who(me)} saknar rätt att bokföra.",
            f"The Fortnox user {_who(me)} lacks the right to book vouchers.",
        ),
        observed=observed,
        manual=_rights_steps(_who(me)),
    )
