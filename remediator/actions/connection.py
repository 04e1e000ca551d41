"""Connection invalidated: prove the grant by refreshing it, or hand out a reconnect link that
says why (invalidated by Fortnox, or lost by the remediator); warn when one Fortnox company is
connected to several restaurants."""

from __future__ import annotations

import asyncio
from typing import Any

from remediator.actions.base import Context, manual, step, text
from remediator.fortnox import ConsentRequired, ReconnectCause, TokenError
from remediator.kinds import ErrorKind
from remediator.report import Step, Steps, StepStatus, Text


def reconnect_steps(ctx: Context) -> Steps:
    """What the restaurant does to reconnect (the connection_invalidated playbook's
    instructions). ``ctx.reconnect_url`` is a signed, expiring link (``remediator.links``) it can
    open without any credential."""
    return ctx.instructions(ErrorKind.CONNECTION_INVALIDATED, {})


async def _shared_with(ctx: Context) -> list[str]:
    tenant = ctx.connection.tenant_id
    if not tenant:
        return []
    others = await asyncio.to_thread(ctx.connections.with_tenant, tenant)
    return [c.id for c in others if c.id != ctx.connection.id]


def _shared_warning(ctx: Context, shared: list[str]) -> Steps:
    if not shared:
        return manual([], [])
    params = {"shared": ", ".join(shared)}
    return ctx.instructions(ErrorKind.CONNECTION_INVALIDATED, params, "shared_connection")


def _joined(first: Steps, second: Steps) -> Steps:
    return manual(first.sv + second.sv, first.en + second.en)


def _dead(cause: ReconnectCause | None) -> Text:
    """Why the connection must be approved again, in words a restaurant can act on."""
    if cause is ReconnectCause.LOST:
        return text(
            "Remediatorn tappade kopplingens förnyelsenyckel: en förnyelse avbröts innan den nya "
            "nyckeln hann sparas, så Fortnox godtar inte längre den gamla. Felet är "
            "remediatorns, inte Fortnox eller restaurangens; kopplingen måste godkännas på nytt.",
            "The remediator lost the connection's refresh token: a refresh was cut off before "
            "the new token was stored, so Fortnox no longer accepts the old one. The fault is "
            "the remediator's, not Fortnox's or the restaurant's; the connection must be "
            "approved again.",
        )
    if cause is ReconnectCause.NO_GRANT:
        return text(
            "Kopplingen har ingen förnyelsenyckel; den måste godkännas i Fortnox.",
            "The connection has no refresh token; it must be approved in Fortnox.",
        )
    if cause is ReconnectCause.SERVICE_ACCOUNT_REFUSED:
        return text(
            "Fortnox nekade tjänstekontot; kopplingen måste godkännas på nytt.",
            "Fortnox refused the service account; the connection must be approved again.",
        )
    return text(
        "Fortnox har gjort kopplingen ogiltig; den måste godkännas på nytt.",
        "Fortnox invalidated the connection; it must be approved again.",
    )


def _not_authorized(connection_id: str) -> Text:
    return text(
        f"Kopplingen är inte godkänd än: kör `remediator connections authorize-url {connection_id}`.",
        f"Not authorized yet: run `remediator connections authorize-url {connection_id}`.",
    )


def consent_step(ctx: Context, action: str, err: ConsentRequired, **fields: Any) -> Step:
    """The step of an action that met a dead grant: why, and the reconnect link."""
    manual_steps = fields.pop("manual", reconnect_steps(ctx))
    observed = fields.pop("observed", {}) | {
        "consent_required": err.error,
        "cause": err.cause.value if err.cause else None,
    }
    never = err.error == "not_authorized"
    return step(
        action,
        StepStatus.NEEDS_MANUAL,
        _not_authorized(ctx.connection.id) if never else _dead(err.cause),
        reason=str(err),
        observed=observed,
        manual=manual_steps,
        **fields,
    )


def _not_refreshed(err: TokenError) -> Text:
    if err.error == "refresh_token_missing":
        return text(
            "Fortnox svarade på förnyelsen utan någon ny förnyelsenyckel. Svaret godtogs inte och "
            "kopplingen lämnades som den var; Z-rapporten skickades inte. Kör åtgärden igen "
            "senare, och kontakta supporten om det upprepas.",
            "Fortnox answered the refresh without a new refresh token. The answer was refused "
            "and the connection left as it was; the Z-report was not sent. Run the fix again "
            "later, and contact support if it repeats.",
        )
    if err.error == "store_failed":
        return text(
            "Fortnox förnyade kopplingen men den nya nyckeln kunde inte sparas; Z-rapporten "
            "skickades inte. Kontakta supporten.",
            "Fortnox renewed the connection but the new token could not be stored; the "
            "Z-report was not sent. Contact support.",
        )
    return text(
        "Kopplingen kunde inte förnyas just nu; Z-rapporten skickades inte. Försök igen senare.",
        "The connection could not be renewed just now; the Z-report was not sent. Try again later.",
    )


async def refresh_connection(ctx: Context, _args: dict[str, str]) -> Step:
    """Prove the grant by refreshing it: an access token that still works says nothing about
    the refresh token behind it, which is what Fortnox invalidates."""
    shared = await _shared_with(ctx)
    observed: dict[str, object] = {"shared_with": shared}
    try:
        await ctx.connector.tokens(ctx.connection.id).refresh_now()
    except ConsentRequired as err:
        return consent_step(
            ctx,
            "refresh_connection",
            err,
            observed=observed,
            manual=_joined(reconnect_steps(ctx), _shared_warning(ctx, shared)),
        )
    except TokenError as err:
        return step(
            "refresh_connection",
            StepStatus.FAILED,
            _not_refreshed(err),
            reason=str(err),
            observed=observed | {"token_error": err.error},
            manual=_shared_warning(ctx, shared),
            unavailable=err.transient,
        )
    return step(
        "refresh_connection",
        StepStatus.OK,
        text(
            "Kopplingen till Fortnox fungerar (förnyad nyss).",
            "The connection to Fortnox works (renewed just now).",
        ),
        observed=observed | {"refreshed": True},
        manual=_shared_warning(ctx, shared),
    )
