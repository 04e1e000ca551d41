"""Connection invalidated: prove the connection works (refreshing if need be) or hand out a
reconnect link; warn when one Fortnox company is connected to several restaurants."""

from __future__ import annotations

import asyncio

from remediator.actions.base import Context, manual, step, text
from remediator.fortnox import ConsentRequired
from remediator.report import Step, Steps, StepStatus


def reconnect_steps(ctx: Context) -> Steps:
    """What the restaurant does to reconnect. ``ctx.reconnect_url`` is a signed, expiring link
    (``remediator.links``) it can open without any credential; it is followed by a space, never
    by punctuation that a mail program could take for part of it."""
    return manual(
        [
            (
                f"Koppla Fortnox igen: öppna {ctx.reconnect_url} och logga in med en Fortnox-användare "
                "som har rätt att bokföra, och godkänn kopplingen."
            ),
            (
                "Använd inte samma Fortnox-inloggning för flera restauranger, och låt inget annat "
                "system förnya samma koppling."
            ),
        ],
        [
            (
                f"Reconnect Fortnox: open {ctx.reconnect_url} and log in with a Fortnox user "
                "who may book vouchers, then approve the connection."
            ),
            (
                "Do not use one Fortnox login for several restaurants, and let no other system "
                "refresh the same connection."
            ),
        ],
    )


async def _shared_with(ctx: Context) -> list[str]:
    tenant = ctx.connection.tenant_id
    if not tenant:
        return []
    others = await asyncio.to_thread(ctx.connector.store.with_tenant, tenant)
    return [c.id for c in others if c.id != ctx.connection.id]


def _shared_warning(shared: list[str]) -> Steps:
    if not shared:
        return manual([], [])
    names = ", ".join(shared)
    return manual(
        [
            (
                f"Varning: samma Fortnox-företag är kopplat till {names} också. En "
                "Fortnox-inloggning kopplad till flera restauranger är en känd orsak till att "
                "kopplingar ogiltigförklaras."
            )
        ],
        [
            (
                f"Warning: the same Fortnox company is connected to {names} as well. One "
                "Fortnox login connected to several restaurants is a known cause of invalidated "
                "connections."
            )
        ],
    )


def _joined(first: Steps, second: Steps) -> Steps:
    return manual(first.sv + second.sv, first.en + second.en)


async def refresh_connection(ctx: Context, _args: dict[str, str]) -> Step:
    shared = await _shared_with(ctx)
    observed: dict[str, object] = {"shared_with": shared}
    try:
        company = await ctx.client.company_information()
    except ConsentRequired as err:
        observed["consent_required"] = err.error
        return step(
            "refresh_connection",
            StepStatus.NEEDS_MANUAL,
            text(
                "Fortnox har gjort kopplingen ogiltig; den måste godkännas på nytt.",
                "Fortnox invalidated the connection; it must be approved again.",
            ),
            reason=str(err),
            observed=observed,
            manual=_joined(reconnect_steps(ctx), _shared_warning(shared)),
        )
    observed["company"] = company.company_name
    return step(
        "refresh_connection",
        StepStatus.OK,
        text(
            "Kopplingen till Fortnox fungerar (token förnyad vid behov).",
            "The connection to Fortnox works (token refreshed when needed).",
        ),
        observed=observed,
        manual=_shared_warning(shared),
    )
