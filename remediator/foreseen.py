"""What a coming export would meet: read-only checks of one company for the days ahead.

For each day checked (tomorrow; from ``preflight_year_end_days`` before the financial year
ends, also the first day of the next one) the survey reads the financial year covering it, the
export's voucher series in it, the year's chart for the accounts the restaurant's exports use,
and (once) the locked period. Each obstacle is named by the kind of error the export would
fail with and the message Fortnox would give, so the run made for it is recognised by its
playbook like a failure that happened.

The accounts are those of the latest ``preflight_vouchers`` vouchers of the series in Fortnox
(listed without rows, then read one by one) and of the vouchers of failures already received.

Bounded, whatever the company holds: the year of today (1), of each later day outside it (1
each), the voucher list (1 page of up to 500: a restaurant books about one voucher a day) and
``preflight_vouchers`` voucher reads, per day the series (1) and the chart (its pages, 3 for a
full BAS chart), and the locked period (1). With two days and 3 vouchers: at most 16.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from remediator.fortnox import FinancialYear, FortnoxClient, Voucher
from remediator.kinds import ErrorKind

ONE_DAY = timedelta(days=1)

# The message Fortnox gives an export that meets each obstacle (as the Backoffice shows it,
# without its "Fel vid export: "): what the playbooks recognise.
FORTNOX_SAYS: dict[ErrorKind, str] = {
    ErrorKind.FINANCIAL_YEAR_MISSING: "Räkenskapsår saknas för valt datum",
    ErrorKind.SERIES_MISSING: 'Verifikationsserien "{series} - Kassa" finns inte',
    ErrorKind.SERIES_NOT_MANUAL: "Verifikationsserien är inte manuell ({series})",
    ErrorKind.ACCOUNT_MISSING: 'Konto "{account}" saknas i kontoplanen',
    ErrorKind.ACCOUNT_INACTIVE: 'Konto "{account}" är inte aktivt',
    ErrorKind.PERIOD_LOCKED: "Bokföringsdatumet ligger i en låst period",
}


@dataclass(frozen=True)
class Obstacle:
    """What the export of ``day`` would fail with: its kind and Fortnox's message."""

    kind: ErrorKind
    day: date
    message: str


@dataclass(frozen=True)
class Survey:
    """The days checked, what the exports use, and what stands in their way."""

    days: list[date]
    series: str
    accounts: list[int]
    obstacles: list[Obstacle] = field(default_factory=list)


def days_ahead(today: date, year: FinancialYear | None, year_end_days: int) -> list[date]:
    """Tomorrow, and the first day of the next financial year once today is within
    ``year_end_days`` of the end of the current one."""
    tomorrow = today + ONE_DAY
    days = [tomorrow]
    if year is not None and (year.to_date - today).days <= year_end_days:
        first = year.to_date + ONE_DAY
        if first != tomorrow:
            days.append(first)
    return days


def _says(kind: ErrorKind, **values: object) -> str:
    return FORTNOX_SAYS[kind].format(**values)


class Surveyor:
    """The read-only checks of one company (see the module's docstring)."""

    def __init__(self, client: FortnoxClient, series: str) -> None:
        self.client, self.series = client, series
        self._years: list[FinancialYear] = []

    async def year_for(self, day: date) -> FinancialYear | None:
        """The financial year covering ``day``: one read unless a year read before covers it."""
        for known in self._years:
            if known.from_date <= day <= known.to_date:
                return known
        year = await self.client.financial_year_for(day)
        if year is not None:
            self._years.append(year)
        return year

    async def used_accounts(
        self, year: FinancialYear | None, today: date, *, latest: int, back: int
    ) -> list[int]:
        """The accounts of the series' latest ``latest`` vouchers of the last ``back`` days."""
        if year is None or latest == 0:
            return []
        listed = await self.client.vouchers(
            year.id, self.series, today - timedelta(days=back), today
        )
        # The series and dates are checked here too: Fortnox documents one filter per call.
        ours = sorted(
            (v for v in listed if _recent(v, self.series, today - timedelta(days=back), today)),
            key=lambda v: (v.transaction_date, v.voucher_number or 0),
        )[-latest:]
        accounts: list[int] = []
        for listed_voucher in ours:
            assert listed_voucher.voucher_number is not None  # noqa: S101 - filtered in _recent
            voucher = await self.client.voucher(self.series, listed_voucher.voucher_number, year.id)
            accounts.extend(voucher.accounts())
        return list(dict.fromkeys(accounts))

    async def obstacles(self, day: date, accounts: list[int]) -> list[Obstacle]:
        """What the export of ``day`` would meet in its year (the locked period apart)."""
        year = await self.year_for(day)
        if year is None:
            return [
                Obstacle(
                    ErrorKind.FINANCIAL_YEAR_MISSING, day, _says(ErrorKind.FINANCIAL_YEAR_MISSING)
                )
            ]
        found: list[Obstacle] = []
        series = await self.client.voucher_series(self.series, year.id)
        if series is None:
            found.append(
                Obstacle(
                    ErrorKind.SERIES_MISSING,
                    day,
                    _says(ErrorKind.SERIES_MISSING, series=self.series),
                )
            )
        elif not series.manual:
            found.append(
                Obstacle(
                    ErrorKind.SERIES_NOT_MANUAL,
                    day,
                    _says(ErrorKind.SERIES_NOT_MANUAL, series=self.series),
                )
            )
        if accounts:
            found.extend(await self._accounts(year, day, accounts))
        return found

    async def _accounts(
        self, year: FinancialYear, day: date, accounts: list[int]
    ) -> list[Obstacle]:
        """One obstacle for the accounts: missing ones (the account_missing playbook creates
        them and activates the inactive ones too), else inactive ones."""
        chart = {account.number: account for account in await self.client.accounts(year.id)}
        missing = [n for n in accounts if n not in chart]
        if missing:
            return [
                Obstacle(
                    ErrorKind.ACCOUNT_MISSING,
                    day,
                    _says(ErrorKind.ACCOUNT_MISSING, account=missing[0]),
                )
            ]
        inactive = [n for n in accounts if not chart[n].active]
        if inactive:
            return [
                Obstacle(
                    ErrorKind.ACCOUNT_INACTIVE,
                    day,
                    _says(ErrorKind.ACCOUNT_INACTIVE, account=inactive[0]),
                )
            ]
        return []

    async def locked(self, days: list[date]) -> list[Obstacle]:
        period = await self.client.locked_period()
        return [
            Obstacle(ErrorKind.PERIOD_LOCKED, day, _says(ErrorKind.PERIOD_LOCKED))
            for day in days
            if period.locks(day)
        ]


def _recent(voucher: Voucher, series: str, first: date, last: date) -> bool:
    return (
        voucher.voucher_series == series
        and voucher.voucher_number is not None
        and first <= voucher.transaction_date <= last
    )


async def survey(
    client: FortnoxClient,
    *,
    today: date,
    series: str,
    received: list[int],
    year_end_days: int,
    latest_vouchers: int,
    voucher_days: int,
) -> Survey:
    """Read what the exports of the days ahead would meet (reads only; see the module's
    docstring for what is read and how much). ``received``: accounts of the vouchers of
    failures already received, checked besides those read from Fortnox."""
    surveyor = Surveyor(client, series)
    current = await surveyor.year_for(today)
    days = days_ahead(today, current, year_end_days)
    used = await surveyor.used_accounts(current, today, latest=latest_vouchers, back=voucher_days)
    accounts = list(dict.fromkeys([*used, *received]))
    found: list[Obstacle] = []
    for day in days:
        found.extend(await surveyor.obstacles(day, accounts))
    open_days = [
        d
        for d in days
        if not any(o.kind == ErrorKind.FINANCIAL_YEAR_MISSING and o.day == d for o in found)
    ]
    found.extend(await surveyor.locked(open_days))
    return Survey(days, series, accounts, found)
