"""Fortnox's bookkeeping rules on one company: series, accounts and vouchers per financial
year, and every precondition a voucher must meet, refused with Fortnox's code and text."""

from __future__ import annotations

from datetime import date
from typing import Any

from remediator.sandbox import codes
from remediator.sandbox.state import Account, CostCentre, FinancialYear, Series, User
from remediator.sandbox.world import Company, Refused, Token

SERIES_FIELDS = {"Code", "Description", "Manual", "Year", "NextVoucherNumber", "Approver", "@url"}
ACCOUNT_FIELDS = {
    "Number",
    "Description",
    "Active",
    "SRU",
    "VATCode",
    "Year",
    "@url",
    "BalanceBroughtForward",
    "CostCenter",
    "CostCenterSettings",
    "Project",
    "ProjectSettings",
    "TransactionInformation",
    "TransactionInformationSettings",
    "QuantitySettings",
    "QuantityUnit",
    "OpeningQuantities",
}
VOUCHER_FIELDS = {
    "VoucherSeries",
    "TransactionDate",
    "Description",
    "Comments",
    "VoucherRows",
    "CostCenter",
    "Project",
    "ReferenceNumber",
    "ReferenceType",
    "Year",
    "VoucherNumber",
    "ApprovalState",
    "@url",
}
ROW_FIELDS = {
    "Account",
    "Debit",
    "Credit",
    "TransactionInformation",
    "Description",
    "CostCenter",
    "Project",
    "Quantity",
    "Removed",
}


def check_fields(body: dict[str, Any], allowed: set[str]) -> None:
    if set(body) - allowed:
        raise Refused(codes.UNKNOWN_FIELD)


def series_json(series: Series, year: int) -> dict[str, Any]:
    return {
        "Code": series.code,
        "Description": series.description,
        "Manual": series.manual,
        "Year": year,
        "NextVoucherNumber": series.next_number,
    }


def account_json(account: Account, year: int) -> dict[str, Any]:
    data: dict[str, Any] = {
        "Number": account.number,
        "Description": account.description,
        "Active": account.active,
        "Year": year,
        "CostCenterSettings": account.cost_centre,
        "ProjectSettings": "ALLOWED",
    }
    if account.sru is not None:
        data["SRU"] = account.sru
    if account.vat_code is not None:
        data["VATCode"] = account.vat_code
    return data


YEAR_FIELDS = {"Id", "FromDate", "ToDate", "AccountChartType", "AccountingMethod", "@url"}


def _year_dates(body: dict[str, Any]) -> tuple[date, date]:
    try:
        first, last = date.fromisoformat(body["FromDate"]), date.fromisoformat(body["ToDate"])
    except (KeyError, TypeError, ValueError):
        raise Refused(codes.INVALID_VALUE) from None
    if first > last:
        raise Refused(codes.INVALID_VALUE)
    return first, last


def create_year(company: Company, body: dict[str, Any]) -> FinancialYear:
    """A new financial year with the next Id; the chart (with each account's active flag)
    and the voucher series (numbering from 1) of the latest earlier year are carried in."""
    check_fields(body, YEAR_FIELDS)
    first, last = _year_dates(body)
    if any(y.from_date <= last and first <= y.to_date for y in company.years):
        raise Refused(codes.YEAR_OVERLAPS)
    method = body.get("AccountingMethod", "ACCRUAL")
    if method not in {"ACCRUAL", "CASH"}:
        raise Refused(codes.INVALID_VALUE)
    earlier = [y for y in company.years if y.to_date < first]
    source = max(earlier, key=lambda y: y.to_date) if earlier else None
    year = FinancialYear(
        id=max((y.id for y in company.years), default=0) + 1,
        from_date=first,
        to_date=last,
        account_chart_type=str(
            body.get("AccountChartType", source.account_chart_type if source else "BAS 2026")
        ),
        accounting_method=method,
    )
    company.years.append(year)
    carried = company.series.get(source.id, {}) if source else {}
    company.series[year.id] = {
        c: s.model_copy(update={"next_number": 1}) for c, s in carried.items()
    }
    chart = company.accounts.get(source.id, {}) if source else {}
    company.accounts[year.id] = {n: a.model_copy() for n, a in chart.items()}
    company.vouchers[year.id] = []
    return year


def get_series(company: Company, year: int, code: str) -> Series:
    series = company.series[year].get(code)
    if series is None:
        raise Refused(codes.SERIES_UNKNOWN_GET)
    return series


def create_series(company: Company, year: int, body: dict[str, Any]) -> Series:
    check_fields(body, SERIES_FIELDS)
    code = body.get("Code")
    if not isinstance(code, str) or not 1 <= len(code) <= 10:  # noqa: PLR2004 - Fortnox's limit
        raise Refused(codes.INVALID_VALUE)
    if code in company.series[year]:
        raise Refused(codes.SERIES_EXISTS)
    series = Series(
        code=code,
        description=str(body.get("Description", ""))[:200],
        manual=bool(body.get("Manual", False)),
    )
    company.series[year][code] = series
    return series


def update_series(company: Company, year: int, code: str, body: dict[str, Any]) -> Series:
    check_fields(body, SERIES_FIELDS)
    series = get_series(company, year, code)
    changes: dict[str, Any] = {}
    if "Manual" in body:
        changes["manual"] = bool(body["Manual"])
    if "Description" in body:
        changes["description"] = str(body["Description"])[:200]
    company.series[year][code] = series.model_copy(update=changes)
    return company.series[year][code]


def get_account(company: Company, year: int, number: int) -> Account:
    account = company.accounts[year].get(number)
    if account is None:
        raise Refused(codes.ACCOUNT_UNKNOWN_GET)
    return account


def create_account(company: Company, year: int, body: dict[str, Any]) -> Account:
    check_fields(body, ACCOUNT_FIELDS)
    number, description = body.get("Number"), body.get("Description")
    if not isinstance(number, int) or not 1000 <= number <= 9999 or not description:  # noqa: PLR2004
        raise Refused(codes.INVALID_VALUE)
    if number in company.accounts[year]:
        raise Refused(codes.ACCOUNT_EXISTS)
    account = Account(
        number=number, description=str(description), active=bool(body.get("Active", True))
    )
    company.accounts[year][number] = account
    return account


def update_account(company: Company, year: int, number: int, body: dict[str, Any]) -> Account:
    check_fields(body, ACCOUNT_FIELDS)
    account = get_account(company, year, number)
    changes: dict[str, Any] = {}
    if "Active" in body:
        changes["active"] = bool(body["Active"])
    if "Description" in body:
        changes["description"] = str(body["Description"])
    company.accounts[year][number] = account.model_copy(update=changes)
    return company.accounts[year][number]


def _user(company: Company, token: Token) -> User:
    return next(u for u in company.tenant.users if u.id == token.user_id)


def _day(body: dict[str, Any]) -> date:
    try:
        return date.fromisoformat(str(body.get("TransactionDate")))
    except ValueError:
        raise Refused(codes.INVALID_VALUE) from None


def _check_rows(company: Company, year: int, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        check_fields(row, ROW_FIELDS)
        number = row.get("Account")
        if not isinstance(number, int) or not 1000 <= number <= 9999:  # noqa: PLR2004
            raise Refused(codes.ACCOUNT_INVALID)
    for row in rows:
        account = company.accounts[year].get(row["Account"])
        if account is None:
            raise Refused(codes.ACCOUNT_NOT_FOUND)
        if not account.active:
            raise Refused(codes.account_inactive(account.number))


def _check_cost_centres(company: Company, year: int, body: dict[str, Any], rows: list[Any]) -> None:
    """Each row's cost centre (or the voucher's) exists and is active; an account whose
    CostCenterSettings is MANDATORY gets one."""
    for row in rows:
        code = row.get("CostCenter") or body.get("CostCenter")
        if code:
            centre = company.cost_centres.get(str(code))
            if centre is None:
                raise Refused(codes.COST_CENTRE_UNKNOWN)
            if not centre.active:
                raise Refused(codes.cost_centre_inactive(centre.code))
        elif company.accounts[year][row["Account"]].cost_centre == "MANDATORY":
            raise Refused(codes.cost_centre_required(row["Account"]))


def _counted(rows: list[Any]) -> list[Any]:
    """The rows Fortnox books: a row of 0.00 on both sides (an amount rounded away) is none."""
    return [r for r in rows if float(r.get("Debit") or 0) or float(r.get("Credit") or 0)]


def _balanced(rows: list[dict[str, Any]]) -> bool:
    debit = sum(float(r.get("Debit") or 0) for r in rows)
    credit = sum(float(r.get("Credit") or 0) for r in rows)
    return abs(debit - credit) < 0.005  # noqa: PLR2004 - half an öre


def _voucher_year(company: Company, day: date, asked: int | None) -> int:
    """The year a voucher dated ``day`` is booked in: the one asked for (``financialyear``),
    which must hold the date, else the one covering the date."""
    year = company.year_for(day)
    if year is None:
        raise Refused(codes.NO_FINANCIAL_YEAR)
    if asked is not None and asked != year:
        raise Refused(codes.DATE_OUTSIDE_YEAR)
    return year


def create_voucher(
    company: Company, token: Token, body: dict[str, Any], asked: int | None = None
) -> tuple[int, dict[str, Any]]:
    """Every precondition Fortnox checks, in order; returns the year and the stored voucher.

    ``asked``: the ``financialyear`` of the request, if it named one."""
    check_fields(body, VOUCHER_FIELDS)
    if not _user(company, token).may_book:
        raise Refused(codes.MAY_NOT_BOOK)
    day = _day(body)
    year = _voucher_year(company, day, asked)
    code = str(body.get("VoucherSeries", ""))
    series = company.series[year].get(code)
    if series is None:
        raise Refused(codes.SERIES_MISSING)
    if not series.manual:
        raise Refused(codes.series_not_manual(code))
    rows = body.get("VoucherRows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise Refused(codes.INVALID_VALUE)
    if len(_counted(rows)) < 2:  # noqa: PLR2004 - a voucher has a debit and a credit side
        raise Refused(codes.TOO_FEW_ROWS)
    _check_rows(company, year, rows)
    _check_cost_centres(company, year, body, rows)
    locked = company.tenant.locked_until
    if locked is not None and day <= locked:
        raise Refused(codes.period_locked(company.tenant.locked_by, locked.isoformat()))
    if not _balanced(rows):
        raise Refused(codes.UNBALANCED)
    stored = {
        "VoucherSeries": code,
        "VoucherNumber": series.next_number,
        "Year": year,
        "TransactionDate": day.isoformat(),
        "Description": str(body.get("Description", "")),
        "Comments": str(body.get("Comments", "")),
        "ReferenceType": "MANUAL",
        "ApprovalState": 0,
        "VoucherRows": [{k: v for k, v in r.items() if k in ROW_FIELDS} for r in rows],
    }
    company.series[year][code] = series.model_copy(update={"next_number": series.next_number + 1})
    company.vouchers[year].append(stored)
    return year, stored


COST_CENTRE_FIELDS = {"Code", "Description", "Note", "Active", "@url"}


def cost_centre_json(centre: CostCentre) -> dict[str, Any]:
    return {
        "Code": centre.code,
        "Description": centre.description,
        "Note": "",
        "Active": centre.active,
    }


def get_cost_centre(company: Company, code: str) -> CostCentre:
    centre = company.cost_centres.get(code)
    if centre is None:
        raise Refused(codes.COST_CENTRE_UNKNOWN_GET)
    return centre


def update_cost_centre(company: Company, code: str, body: dict[str, Any]) -> CostCentre:
    check_fields(body, COST_CENTRE_FIELDS)
    centre = get_cost_centre(company, code)
    changes: dict[str, Any] = {}
    if "Active" in body:
        changes["active"] = bool(body["Active"])
    if "Description" in body:
        changes["description"] = str(body["Description"])
    company.cost_centres[code] = centre.model_copy(update=changes)
    return company.cost_centres[code]
