"""Voucher series: exists in the export's year, and is open for manual entry (API vouchers)."""

from __future__ import annotations

from typing import Any

from remediator.actions.base import Context, Planned, call, make_change, step, text
from remediator.fortnox import VoucherSeries
from remediator.kinds import ErrorKind
from remediator.policy import Change
from remediator.report import Step, StepStatus


def _code(ctx: Context, args: dict[str, str]) -> str:
    return (args.get("series") or ctx.failure.export.voucher_series).strip().upper()


def _state(series: VoucherSeries | None) -> dict[str, Any]:
    if series is None:
        return {"exists": False}
    return {"exists": True, "manual": bool(series.manual), "description": series.description}


async def _read(ctx: Context, code: str) -> VoucherSeries | None:
    """Series ``code`` in the export's year, read once per run (a missing one too)."""
    key = f"series:{code}"
    if key in ctx.facts:
        cached = ctx.facts[key]
        return cached if isinstance(cached, VoucherSeries) else None
    series = await ctx.client.voucher_series(code, ctx.require_year().id)
    ctx.facts[key] = series
    return series


async def series_exists(ctx: Context, args: dict[str, str]) -> Step:
    code, year = _code(ctx, args), ctx.require_year()
    description = args.get("description") or "Kassa"
    series = await _read(ctx, code)
    observed = {f"series:{code}": _state(series)}
    if series is not None:
        return step(
            "series_exists",
            StepStatus.OK,
            text(
                f"Verifikationsserie {code} finns i räkenskapsåret.",
                f"Voucher series {code} exists in the financial year.",
            ),
            observed=observed,
        )
    body = {"VoucherSeries": {"Code": code, "Description": description, "Manual": True}}

    async def create() -> dict[str, Any]:
        created = await ctx.client.create_voucher_series(code, description, year.id)
        ctx.facts[f"series:{code}"] = created
        return _state(created)

    async def look() -> dict[str, Any]:
        found = await ctx.client.voucher_series(code, year.id)
        ctx.facts[f"series:{code}"] = found
        return _state(found)

    ctx.facts[f"series_planned:{code}"] = True
    return await make_change(
        ctx,
        Planned(
            action="series_exists",
            change=Change.CREATE_SERIES,
            call=call("POST", f"/3/voucherseries?financialyear={year.id}", body),
            before=_state(None),
            after={"exists": True, "manual": True},
            planned=text(
                f'Skapa verifikationsserie {code} "{description}", manuell, i räkenskapsåret.',
                f'Create voucher series {code} "{description}", manual, in the financial year.',
            ),
            done=text(
                f'Verifikationsserie {code} "{description}" skapades som manuell.',
                f'Created voucher series {code} "{description}" as manual.',
            ),
            by_hand=ctx.instructions(ErrorKind.SERIES_MISSING, {"series": code}),
            observed=observed,
            look=look,
        ),
        create,
    )


async def series_manual(ctx: Context, args: dict[str, str]) -> Step:
    code, year = _code(ctx, args), ctx.require_year()
    series = await _read(ctx, code)
    observed = {f"series:{code}": _state(series)}
    if series is None:
        if ctx.facts.get(f"series_planned:{code}"):
            return step(
                "series_manual",
                StepStatus.SKIPPED,
                text(
                    f"Serie {code} skapas som manuell i steget innan.",
                    f"Series {code} is created as manual by the step before.",
                ),
                reason="the series does not exist yet; the plan creates it manual",
                observed=observed,
            )
        return step(
            "series_manual",
            StepStatus.FAILED,
            text(
                f"Verifikationsserie {code} finns inte i räkenskapsåret.",
                f"Voucher series {code} does not exist in the financial year.",
            ),
            reason="series missing",
            observed=observed,
        )
    if series.manual:
        return step(
            "series_manual",
            StepStatus.OK,
            text(
                f"Serie {code} är öppen för manuell kontering.",
                f"Series {code} is open for manual entry.",
            ),
            observed=observed,
        )

    async def update() -> dict[str, Any]:
        updated = await ctx.client.update_voucher_series(code, year.id, manual=True)
        ctx.facts[f"series:{code}"] = updated
        return _state(updated)

    return await make_change(
        ctx,
        Planned(
            action="series_manual",
            change=Change.SET_MANUAL,
            call=call(
                "PUT",
                f"/3/voucherseries/{code}?financialyear={year.id}",
                {"VoucherSeries": {"Manual": True}},
            ),
            before=_state(series),
            after={"exists": True, "manual": True},
            planned=text(
                f"Öppna serie {code} för manuell kontering (Manual: true).",
                f"Open series {code} for manual entry (Manual: true).",
            ),
            done=text(
                f"Serie {code} är nu öppen för manuell kontering.",
                f"Series {code} is now open for manual entry.",
            ),
            by_hand=ctx.instructions(ErrorKind.SERIES_NOT_MANUAL, {"series": code}),
            observed=observed,
        ),
        update,
    )
