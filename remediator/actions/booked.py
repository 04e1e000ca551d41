"""Whether an export is already in Fortnox: what makes a booked voucher "the same export".

A voucher in Fortnox is the export when it is of the export's financial year, series and
transaction date — checked here, whatever filters Fortnox honoured on the search — and

- it carries the export's key on a line of its own, in ``Comments`` or ``Description`` (the
  remediator puts it there when it re-sends; ``zr:r1:z-1`` is not found in ``zr:r1:z-12``), or
- it carries the failed voucher's own ``Description`` (the Backoffice's POST was stored after
  all) **and**, read in full, the same rows: the same accounts with the same debit and credit
  amounts. An equal description alone is not a match.

docs/duplicates.md says the same for people.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from remediator.fortnox import FinancialYear, FortnoxClient, Ledger, Voucher

Row = tuple[int | None, Decimal, Decimal]
_CENT = Decimal("0.01")


def key_line(text: str | None, key: str) -> bool:
    """Whether ``key`` is one of the lines of ``text`` (surrounding spaces aside)."""
    return any(line.strip() == key for line in (text or "").splitlines())


def carries_key(booked: Voucher, key: str) -> bool:
    return key_line(booked.comments, key) or key_line(booked.description, key)


def same_place(booked: Voucher, voucher: Voucher) -> bool:
    """Same series and transaction date (the financial year follows from the date)."""
    return (
        booked.voucher_series.strip().upper() == voucher.voucher_series.strip().upper()
        and booked.transaction_date == voucher.transaction_date
    )


def same_description(booked: Voucher, voucher: Voucher) -> bool:
    own = (voucher.description or "").strip()
    return bool(own) and (booked.description or "").strip() == own


def _amount(value: float | None) -> Decimal:
    return Decimal(str(value or 0)).quantize(_CENT)


def rows(voucher: Voucher) -> Counter[Row]:
    """The voucher's rows as accounts and amounts (to the öre), removed rows left out."""
    return Counter(
        (row.account, _amount(row.debit), _amount(row.credit))
        for row in voucher.voucher_rows
        if not row.removed
    )


def same_rows(booked: Voucher, voucher: Voucher) -> bool:
    return bool(voucher.voucher_rows) and rows(booked) == rows(voucher)


# The most days one duplicate search covers (a month: one page of a restaurant's series).
MAX_SPAN_DAYS = 31


def search_span(day: date, year: FinancialYear, burst: Iterable[date]) -> tuple[date, date]:
    """The days one search covers for ``day``: from the earliest of ``day`` and the burst's
    days of the same year near it, at most ``MAX_SPAN_DAYS`` days, ``day`` always in."""
    near = sorted(
        {day, *(d for d in burst if year.covers(d) and abs((d - day).days) < MAX_SPAN_DAYS)}
    )
    first = near[0]
    return first, max(d for d in near if (d - first).days < MAX_SPAN_DAYS)


async def find_booked(
    client: FortnoxClient,
    voucher: Voucher,
    year: FinancialYear,
    key: str,
    *,
    ledger: Ledger | None = None,
    burst: Iterable[date] = (),
) -> Voucher | None:
    """The booked voucher that is this export, or ``None``.

    One search of the day's vouchers in the series (all pages); what it lists is checked
    here again, so a Fortnox that ignores a filter cannot make a wrong match. A voucher that
    matches by description only is read in full to compare its rows.

    With a ``ledger`` (an apply under its company's lease) the search covers the ``burst``'s
    days too (``search_span``), and a search of the same lease that covers the day already,
    with our POSTs since, is used instead of a new one (``remediator.fortnox.Ledger``).
    """
    day = voucher.transaction_date
    listed = ledger.listed(year.id, voucher.voucher_series, day) if ledger else None
    if listed is None:
        first, last = search_span(day, year, burst) if ledger else (day, day)
        listed = await client.vouchers(year.id, voucher.voucher_series, first, last)
        if ledger is not None:
            ledger.searched(year.id, voucher.voucher_series, first, last, listed)
    there = [booked for booked in listed if same_place(booked, voucher)]
    keyed = next((booked for booked in there if carries_key(booked, key)), None)
    if keyed is not None:
        return keyed
    for candidate in there:
        if candidate.voucher_number is None or not same_description(candidate, voucher):
            continue
        full = await client.voucher(candidate.voucher_series, candidate.voucher_number, year.id)
        if same_place(full, voucher) and same_rows(full, voucher):
            return full
    return None
