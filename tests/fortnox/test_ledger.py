"""A lease's voucher ledger: one search's list serves while the lease is held, for its ttl,
for the days, year and series it covered, with our own POSTs added."""

from __future__ import annotations

from datetime import date

from remediator.fortnox import Ledger, Voucher

DAY = date(2026, 3, 2)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _voucher(day: date = DAY, series: str = "F", number: int | None = 1) -> Voucher:
    return Voucher(voucher_series=series, transaction_date=day, voucher_number=number)


def _ledger(held: list[bool]) -> tuple[Ledger, Clock]:
    clock = Clock()
    ledger = Ledger(lambda: held[0], ttl=10, clock=clock)
    ledger.searched(2, "f", DAY, date(2026, 3, 6), [_voucher()])
    return ledger, clock


def test_a_search_serves_the_days_year_and_series_it_covered() -> None:
    ledger, _ = _ledger([True])
    assert ledger.listed(2, "F", DAY) == [_voucher()]
    assert ledger.listed(2, " f ", date(2026, 3, 6)) == [_voucher()]
    assert ledger.listed(2, "F", date(2026, 3, 7)) is None  # another day
    assert ledger.listed(3, "F", DAY) is None  # another year
    assert ledger.listed(2, "A", DAY) is None  # another series


def test_our_posts_are_added_to_what_it_covers() -> None:
    ledger, _ = _ledger([True])
    ledger.posted(2, _voucher(date(2026, 3, 4), number=2))
    ledger.posted(2, _voucher(date(2026, 3, 9), number=3))  # outside: not added, not asked for
    listed = ledger.listed(2, "F", date(2026, 3, 4))
    assert listed is not None
    assert [v.voucher_number for v in listed] == [1, 2]


def test_a_search_is_forgotten_after_its_ttl() -> None:
    ledger, clock = _ledger([True])
    clock.now += 10.5
    assert ledger.listed(2, "F", DAY) is None
    clock.now -= 10.5  # forgotten for good, not hidden
    assert ledger.listed(2, "F", DAY) is None


def test_a_search_does_not_outlive_its_lease() -> None:
    held = [True]
    ledger, _ = _ledger(held)
    held[0] = False
    assert ledger.listed(2, "F", DAY) is None
    held[0] = True
    assert ledger.listed(2, "F", DAY) is None
    ledger.searched(2, "F", DAY, DAY, [])
    assert ledger.listed(2, "F", DAY) == []


def test_a_search_made_without_the_lease_is_not_kept() -> None:
    held = [False]
    ledger, _ = _ledger(held)
    held[0] = True
    assert ledger.listed(2, "F", DAY) is None


def test_forget() -> None:
    ledger, _ = _ledger([True])
    ledger.forget()
    assert ledger.listed(2, "F", DAY) is None
