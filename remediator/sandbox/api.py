"""The REST subset under ``/3/``: routing, envelopes, paging and per-year parameters."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from remediator.sandbox import books, codes
from remediator.sandbox.world import Company, Refused, Token, World

Answer = tuple[int, dict[str, Any]]
DEFAULT_LIMIT, MAX_LIMIT = 100, 500


@dataclass
class Call:
    """One API request, authenticated, as the handlers see it."""

    world: World
    company: Company
    token: Token
    method: str
    params: dict[str, str]
    raw_body: bytes
    match: dict[str, str]

    def body(self, envelope: str) -> dict[str, Any]:
        try:
            data = json.loads(self.raw_body or b"{}")
        except ValueError:
            raise Refused(codes.MALFORMED_JSON) from None
        if not isinstance(data, dict) or set(data) - {envelope}:
            raise Refused(codes.UNKNOWN_FIELD)
        inner = data.get(envelope)
        if not isinstance(inner, dict):
            raise Refused(codes.MALFORMED_JSON)
        return inner

    def year(self) -> int:
        """The financial year asked for: ``financialyear`` (an Id), else the year holding
        ``financialyeardate``, else the year of today."""
        raw = self.params.get("financialyear")
        if raw is not None:
            if not raw.isdigit() or int(raw) not in self.company.series:
                raise Refused(codes.YEAR_UNKNOWN_GET)
            return int(raw)
        day = self.date("financialyeardate") or self.world.today()
        found = self.company.year_for(day)
        if found is None:
            raise Refused(codes.NO_FINANCIAL_YEAR)
        return found

    def date(self, name: str) -> date | None:
        raw = self.params.get(name)
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise Refused(codes.INVALID_VALUE) from None

    def number(self, name: str, default: int) -> int:
        raw = self.params.get(name)
        if not raw:
            return default
        if not raw.isdigit():
            raise Refused(codes.INVALID_VALUE)
        return int(raw)


def _paged(call: Call, key: str, items: list[dict[str, Any]]) -> Answer:
    """Fortnox's paging: ``limit`` (default 100, at most 500) and ``page``, with
    MetaInformation; a page past the last answers the last page."""
    limit = min(max(call.number("limit", DEFAULT_LIMIT), 1), MAX_LIMIT)
    pages = max(1, -(-len(items) // limit))
    page = min(max(call.number("page", 1), 1), pages)
    meta = {"@TotalResources": len(items), "@TotalPages": pages, "@CurrentPage": page}
    return 200, {"MetaInformation": meta, key: items[(page - 1) * limit : page * limit]}


def _year_json(company: Company, year_id: int) -> dict[str, Any]:
    year = company.year(year_id)
    return {
        "Id": year.id,
        "FromDate": year.from_date.isoformat(),
        "ToDate": year.to_date.isoformat(),
        "AccountChartType": year.account_chart_type,
        "AccountingMethod": year.accounting_method,
    }


def financial_years(call: Call) -> Answer:
    ids = [y.id for y in call.company.years]
    day = call.date("date")
    if day is not None:
        found = call.company.year_for(day)
        ids = [found] if found is not None else []
    return 200, {"FinancialYears": [_year_json(call.company, i) for i in ids]}


def financial_year_post(call: Call) -> Answer:
    """Create a financial year (ahead of time, as Fortnox allows): the chart and the series
    of the latest earlier year are carried into it."""
    created = books.create_year(call.company, call.body("FinancialYear"))
    return 201, {"FinancialYear": _year_json(call.company, created.id)}


def financial_year(call: Call) -> Answer:
    year_id = int(call.match["id"])
    if year_id not in call.company.series:
        raise Refused(codes.YEAR_UNKNOWN_GET)
    return 200, {"FinancialYear": _year_json(call.company, year_id)}


def series_list(call: Call) -> Answer:
    year = call.year()
    items = [
        {k: v for k, v in books.series_json(s, year).items() if k != "NextVoucherNumber"}
        for s in call.company.series[year].values()
    ]
    return _paged(call, "VoucherSeriesCollection", items)


def series_get(call: Call) -> Answer:
    year = call.year()
    return 200, {
        "VoucherSeries": books.series_json(
            books.get_series(call.company, year, call.match["code"]), year
        )
    }


def series_post(call: Call) -> Answer:
    year = call.year()
    created = books.create_series(call.company, year, call.body("VoucherSeries"))
    return 201, {"VoucherSeries": books.series_json(created, year)}


def series_put(call: Call) -> Answer:
    year = call.year()
    updated = books.update_series(
        call.company, year, call.match["code"], call.body("VoucherSeries")
    )
    return 200, {"VoucherSeries": books.series_json(updated, year)}


def accounts_list(call: Call) -> Answer:
    year = call.year()
    items = [books.account_json(a, year) for a in call.company.accounts[year].values()]
    return _paged(call, "Accounts", items)


def account_get(call: Call) -> Answer:
    year = call.year()
    account = books.get_account(call.company, year, int(call.match["number"]))
    return 200, {"Account": books.account_json(account, year)}


def account_post(call: Call) -> Answer:
    year = call.year()
    created = books.create_account(call.company, year, call.body("Account"))
    return 201, {"Account": books.account_json(created, year)}


def account_put(call: Call) -> Answer:
    year = call.year()
    updated = books.update_account(
        call.company, year, int(call.match["number"]), call.body("Account")
    )
    return 200, {"Account": books.account_json(updated, year)}


def vouchers_list(call: Call) -> Answer:
    """The year's vouchers without rows, filtered by series and dates unless the fault
    ``ignore_voucher_filters`` is on (then every voucher of the year)."""
    year, series = call.year(), call.params.get("voucherseries")
    first, last = call.date("fromdate") or date.min, call.date("todate") or date.max
    if call.world.faults.ignore_voucher_filters:
        series, first, last = None, date.min, date.max
    items = [
        {k: v for k, v in voucher.items() if k != "VoucherRows"}
        for voucher in call.company.vouchers[year]
        if series in (None, voucher["VoucherSeries"])
        and first <= date.fromisoformat(voucher["TransactionDate"]) <= last
    ]
    return _paged(call, "Vouchers", items)


def voucher_get(call: Call) -> Answer:
    year = call.year()
    for voucher in call.company.vouchers[year]:
        if (
            voucher["VoucherSeries"] == call.match["series"]
            and str(voucher["VoucherNumber"]) == call.match["number"]
        ):
            return 200, {"Voucher": voucher}
    raise Refused(codes.VOUCHER_UNKNOWN_GET)


def voucher_post(call: Call) -> Answer:
    refusal = call.world.faults.voucher_refusal
    if refusal is not None:
        raise Refused(codes.refusal(refusal.status, refusal.code, refusal.message))
    asked = call.year() if "financialyear" in call.params else None
    _, stored = books.create_voucher(call.company, call.token, call.body("Voucher"), asked)
    return 201, {"Voucher": stored}


def cost_centres_list(call: Call) -> Answer:
    items = [books.cost_centre_json(c) for c in call.company.cost_centres.values()]
    return _paged(call, "CostCenters", items)


def cost_centre_get(call: Call) -> Answer:
    centre = books.get_cost_centre(call.company, call.match["code"])
    return 200, {"CostCenter": books.cost_centre_json(centre)}


def cost_centre_put(call: Call) -> Answer:
    updated = books.update_cost_centre(call.company, call.match["code"], call.body("CostCenter"))
    return 200, {"CostCenter": books.cost_centre_json(updated)}


def company_information(call: Call) -> Answer:
    tenant = call.company.tenant
    info = tenant.company.model_dump(by_alias=True, exclude_none=True)
    return 200, {"CompanyInformation": info | {"DatabaseNumber": int(tenant.tenant_id)}}


def me(call: Call) -> Answer:
    user = next(u for u in call.company.tenant.users if u.id == call.token.user_id)
    return 200, {
        "MeInformation": {
            "Id": user.id,
            "Name": user.name,
            "Email": user.email,
            "SysAdmin": user.sys_admin,
            "Locale": "sv",
        }
    }


def locked_period(call: Call) -> Answer:
    until = call.company.tenant.locked_until
    return 200, {"LockedPeriod": {"EndDate": until.isoformat() if until else None}}


Handler = Callable[[Call], Answer]
ROUTES: list[tuple[str, re.Pattern[str], str, Handler]] = [
    (method, re.compile(f"^{pattern}$"), scope, handler)
    for method, pattern, scope, handler in [
        ("GET", r"/companyinformation", "companyinformation", company_information),
        ("GET", r"/me", "profile", me),
        ("GET", r"/settings/lockedperiod", "settings", locked_period),
        ("GET", r"/financialyears", "bookkeeping", financial_years),
        ("POST", r"/financialyears", "bookkeeping", financial_year_post),
        ("GET", r"/financialyears/(?P<id>\d+)", "bookkeeping", financial_year),
        ("GET", r"/voucherseries", "bookkeeping", series_list),
        ("POST", r"/voucherseries", "bookkeeping", series_post),
        ("GET", r"/voucherseries/(?P<code>[^/]+)", "bookkeeping", series_get),
        ("PUT", r"/voucherseries/(?P<code>[^/]+)", "bookkeeping", series_put),
        ("GET", r"/accounts", "bookkeeping", accounts_list),
        ("POST", r"/accounts", "bookkeeping", account_post),
        ("GET", r"/accounts/(?P<number>\d+)", "bookkeeping", account_get),
        ("PUT", r"/accounts/(?P<number>\d+)", "bookkeeping", account_put),
        ("GET", r"/costcenters", "costcenter", cost_centres_list),
        ("GET", r"/costcenters/(?P<code>[^/]+)", "costcenter", cost_centre_get),
        ("PUT", r"/costcenters/(?P<code>[^/]+)", "costcenter", cost_centre_put),
        ("GET", r"/vouchers", "bookkeeping", vouchers_list),
        ("POST", r"/vouchers", "bookkeeping", voucher_post),
        ("GET", r"/vouchers/(?P<series>[^/]+)/(?P<number>\d+)", "bookkeeping", voucher_get),
    ]
]


def route(method: str, path: str) -> tuple[str, Handler, dict[str, str]] | None:
    for route_method, pattern, scope, handler in ROUTES:
        found = pattern.match(path)
        if found and route_method == method:
            return scope, handler, found.groupdict()
    return None
