"""Re-send the failed export's voucher, never twice.

The voucher carries the export's key on a line of its own in ``Comments``. Before posting, the
export is looked for among the vouchers in Fortnox (``booked.find_booked``: what makes a voucher
"the same export"); when a POST's outcome is unknown (timeout, 5xx), it is looked for again
instead of posting blind.
"""

from __future__ import annotations

from typing import Any

from remediator.actions.base import (
    Context,
    Planned,
    UnconfirmedWrite,
    call,
    make_change,
    step,
    text,
)
from remediator.actions.booked import carries_key, find_booked, key_line
from remediator.fortnox import Voucher, WriteOutcomeUnknown
from remediator.policy import Change
from remediator.report import Step, Steps, StepStatus, VoucherResult

COMMENTS_MAX = 1000


def export_again(ctx: Context) -> Steps:
    """The manual step that books the day when the remediator cannot send it (shared
    instructions, ``playbooks/_shared.yaml``)."""
    return ctx.instructions(ctx.recognition.kind, {}, "export_again")


def keyed(voucher: Voucher, key: str) -> Voucher:
    """The voucher with the export key on a line of its own at the end of its comments (kept
    within Fortnox's 1000 characters, the key whole)."""
    comments = voucher.comments or ""
    if key_line(comments, key):
        return voucher
    joined = f"{comments}\n{key}" if comments else key
    return voucher.model_copy(update={"comments": joined[-COMMENTS_MAX:]})


async def resend_voucher(ctx: Context, _args: dict[str, str]) -> Step:
    voucher = ctx.failure.export.voucher
    if voucher is None:
        return step(
            "resend_voucher",
            StepStatus.NEEDS_MANUAL,
            text(
                f"Felet skickades utan verifikation, så Z-rapporten för {ctx.failure.export.date} "
                "kan inte skickas härifrån; dagen är inte bokförd förrän den exporteras igen.",
                f"The failure carried no voucher, so the Z-report for {ctx.failure.export.date} "
                "cannot be sent from here; the day is not booked until it is exported again.",
            ),
            reason="no voucher in the failure",
            manual=export_again(ctx),
        )
    year, key = ctx.require_year(), ctx.failure.export_key
    series = voucher.voucher_series
    booked = await find_booked(
        ctx.client, voucher, year, key, ledger=ctx.ledger, burst=ctx.burst(series)
    )
    observed = {"booked": booked.voucher_number if booked else None}
    if booked is not None:
        return _already_booked(ctx, booked, key, observed)
    to_send = keyed(voucher, key)

    async def send() -> dict[str, Any]:
        try:
            created = await ctx.client.create_voucher(to_send, year.id)
        except WriteOutcomeUnknown as err:
            # Fortnox may have stored it: look (asking Fortnox) instead of posting again.
            if ctx.ledger is not None:
                ctx.ledger.forget()
            found = await find_booked(ctx.client, voucher, year, key)
            if found is None:
                raise UnconfirmedWrite(
                    f"{err.cause} on the voucher POST, and the voucher is not among the day's "
                    "vouchers: it was not sent again (never twice); run the fix again later"
                ) from None
            created = found
        else:
            if ctx.ledger is not None:  # later searches of this lease know it is there
                ctx.ledger.posted(year.id, to_send.model_copy(update=_numbered(created)))
        ctx.facts["voucher"] = VoucherResult(
            series=created.voucher_series, number=created.voucher_number, year=created.year
        )
        return {"booked": True, "number": created.voucher_number}

    return await make_change(
        ctx,
        Planned(
            action="resend_voucher",
            change=Change.RESEND_VOUCHER,
            call=call(
                "POST",
                f"/3/vouchers?financialyear={year.id}",
                {"Voucher": to_send.new_voucher_payload()},
            ),
            before={"booked": False},
            after={"booked": True},
            planned=text(
                f"Skicka Z-rapporten för {voucher.transaction_date} igen (serie {series}).",
                f"Send the Z-report for {voucher.transaction_date} again (series {series}).",
            ),
            done=text(
                f"Z-rapporten för {voucher.transaction_date} är bokförd.",
                f"The Z-report for {voucher.transaction_date} is booked.",
            ),
            by_hand=export_again(ctx),
            observed=observed,
        ),
        send,
    )


def _already_booked(ctx: Context, booked: Voucher, key: str, observed: dict[str, Any]) -> Step:
    """The step for an export found booked: by the remediator (its key is on it), or the
    Backoffice's own voucher, stored after all."""
    keyed = carries_key(booked, key)
    ctx.facts["voucher"] = VoucherResult(
        series=booked.voucher_series,
        number=booked.voucher_number,
        year=booked.year,
        already_booked=True,
        keyed=keyed,
    )
    name = f"{booked.voucher_series} {booked.voucher_number}"
    summary = (
        text(
            f"Z-rapporten är redan bokförd som {name}: remediatorn skickade den tidigare "
            "(exportens nyckel finns på den).",
            f"The Z-report is already booked as {name}: the remediator sent it earlier (the "
            "export's key is on it).",
        )
        if keyed
        else text(
            f"Z-rapporten är redan bokförd som {name}.",
            f"The Z-report is already booked as {name}.",
        )
    )
    return step("resend_voucher", StepStatus.OK, summary, observed=observed)


def _numbered(created: Voucher) -> dict[str, Any]:
    """What Fortnox gave the voucher we sent: its number and year."""
    return {"voucher_number": created.voucher_number, "year": created.year}
