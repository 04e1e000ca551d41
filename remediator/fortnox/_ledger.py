"""What one company's turn knows of its vouchers: one search's list, and what we posted since.

The duplicate search before each voucher POST (``remediator.actions.booked``) may list a range
of days once — the days of a burst of failures waiting for the company — instead of one day per
failure. That list stands in for a new search only while nothing but us can have added a
voucher to those days through the remediator: under the company's lease, held without a break
since the search (``held``: the lease it was made under is that turn's and not lost; a lost
lease is never ours again), with our own POSTs added as they are answered, and for at most
``ttl`` seconds. A POST whose outcome is unknown, a run that ends blocked, or any doubt:
``forget``, and the next search asks Fortnox. docs/duplicates.md says why this is sound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from remediator.fortnox._models import Voucher

# How long one search serves a turn's later POSTs (a person exporting a day by hand in the
# Backoffice is not under our lease: this bounds how long such a voucher could go unseen).
LEDGER_SECONDS = 10.0


@dataclass
class _Search:
    year_id: int
    series: str
    first: date
    last: date
    at: float
    vouchers: list[Voucher]

    def covers(self, year_id: int, series: str, day: date) -> bool:
        return (
            year_id == self.year_id
            and series.strip().upper() == self.series
            and self.first <= day <= self.last
        )


class Ledger:
    """One turn's last voucher search, valid while ``held()`` and for ``ttl`` seconds."""

    def __init__(
        self,
        held: Callable[[], bool],
        ttl: float = LEDGER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._held, self.ttl, self._clock = held, ttl, clock
        self._search: _Search | None = None

    def __repr__(self) -> str:
        search = self._search
        listed = "nothing" if search is None else f"{search.first}..{search.last}"
        return f"Ledger({listed})"

    def listed(self, year_id: int, series: str, day: date) -> list[Voucher] | None:
        """The vouchers known for ``day`` of that year and series (a superset: the caller
        filters), or ``None`` when Fortnox must be asked."""
        search = self._search
        if search is None:
            return None
        if not self._held() or self._clock() - search.at > self.ttl:
            self.forget()
            return None
        return list(search.vouchers) if search.covers(year_id, series, day) else None

    def searched(
        self, year_id: int, series: str, first: date, last: date, vouchers: list[Voucher]
    ) -> None:
        """A search of ``first``..``last`` was answered with ``vouchers`` (sent now)."""
        if not self._held():
            return
        self._search = _Search(
            year_id, series.strip().upper(), first, last, self._clock(), list(vouchers)
        )

    def posted(self, year_id: int, voucher: Voucher) -> None:
        """Our POST of ``voucher`` was answered: it is among the vouchers from now on."""
        search = self._search
        if search is not None and search.covers(
            year_id, voucher.voucher_series, voucher.transaction_date
        ):
            search.vouchers.append(voucher)

    def forget(self) -> None:
        self._search = None
