"""What makes a voucher in Fortnox "the same export" (docs/duplicates.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from remediator.actions.booked import (
    MAX_SPAN_DAYS,
    carries_key,
    same_description,
    same_place,
    same_rows,
    search_span,
)
from remediator.fortnox import FinancialYear, Voucher, VoucherRow

KEY = "zr:r1:z-1"


def voucher(**fields: Any) -> Voucher:
    base: dict[str, Any] = {
        "voucher_series": "F",
        "transaction_date": date(2026, 3, 2),
        "description": "Z-rapport 1",
        "voucher_rows": [
            VoucherRow(account=1910, debit=100.0, credit=0),
            VoucherRow(account=3001, credit=80.0),
            VoucherRow(account=2611, credit=20.0),
        ],
    }
    return Voucher(**(base | fields))


@pytest.mark.parametrize(
    ("comments", "description", "carried"),
    [
        (KEY, None, True),
        (f"Z-rapport 1\n  {KEY}  \n", None, True),
        (None, KEY, True),
        ("zr:r1:z-12", None, False),
        (f"{KEY}2", None, False),
        (f"rättelse av {KEY}", None, False),
        (None, f"Z-rapport {KEY}", False),
        (None, None, False),
    ],
)
def test_the_key_counts_only_as_a_line_of_its_own(
    comments: str | None, description: str | None, carried: bool
) -> None:
    assert carries_key(voucher(comments=comments, description=description), KEY) is carried


def test_series_and_day_are_checked_here() -> None:
    failed = voucher()
    assert same_place(voucher(voucher_series="f"), failed)
    assert not same_place(voucher(voucher_series="A"), failed)
    assert not same_place(voucher(transaction_date=date(2026, 3, 3)), failed)


def test_an_empty_description_never_matches() -> None:
    assert same_description(voucher(description=" Z-rapport 1 "), voucher())
    assert not same_description(voucher(description=None), voucher(description=None))
    assert not same_description(voucher(description=""), voucher(description=" "))


def test_rows_match_by_account_and_amount_in_any_order() -> None:
    failed = voucher()
    reordered = voucher(
        voucher_rows=[
            VoucherRow(account=2611, credit=20.0, transaction_information="Moms"),
            VoucherRow(account=1910, debit=100.001),
            VoucherRow(account=3001, credit=80.0, debit=0),
        ]
    )
    assert same_rows(reordered, failed)
    other_amount = voucher(
        voucher_rows=[
            VoucherRow(account=1910, debit=100.0),
            VoucherRow(account=3001, credit=70.0),
            VoucherRow(account=2611, credit=30.0),
        ]
    )
    assert not same_rows(other_amount, failed)
    other_account = voucher(
        voucher_rows=[
            VoucherRow(account=1930, debit=100.0),
            VoucherRow(account=3001, credit=80.0),
            VoucherRow(account=2611, credit=20.0),
        ]
    )
    assert not same_rows(other_account, failed)
    assert not same_rows(voucher(voucher_rows=()), voucher(voucher_rows=()))


YEAR = FinancialYear(id=2, from_date=date(2026, 1, 1), to_date=date(2026, 12, 31))


@pytest.mark.parametrize(
    ("day", "burst", "span"),
    [
        (date(2026, 3, 2), [], (date(2026, 3, 2), date(2026, 3, 2))),
        (
            date(2026, 3, 2),
            [date(2026, 3, 2), date(2026, 3, 5), date(2026, 3, 4)],
            (date(2026, 3, 2), date(2026, 3, 5)),
        ),
        # a day before this one is in the span too
        (date(2026, 3, 5), [date(2026, 3, 3)], (date(2026, 3, 3), date(2026, 3, 5))),
        # another financial year is not
        (date(2026, 1, 2), [date(2025, 12, 30)], (date(2026, 1, 2), date(2026, 1, 2))),
        # at most a month, and the day itself always in
        (
            date(2026, 3, 20),
            [date(2026, 3, 1), date(2026, 4, 15), date(2026, 3, 25)],
            (date(2026, 3, 1), date(2026, 3, 25)),
        ),
        (date(2026, 6, 1), [date(2026, 3, 1)], (date(2026, 6, 1), date(2026, 6, 1))),
    ],
)
def test_one_search_spans_the_bursts_days_near_the_day(
    day: date, burst: list[date], span: tuple[date, date]
) -> None:
    found = search_span(day, YEAR, burst)
    assert found == span
    assert found[0] <= day <= found[1]
    assert (found[1] - found[0]).days < MAX_SPAN_DAYS
