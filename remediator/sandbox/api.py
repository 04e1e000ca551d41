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
        raw = self.params.get("financialyear")
        if raw is not None:
            if not raw.isdigit() or int(raw) not in self.company.series:
                raise Refused(codes.YEAR_UNKNOWN_GET)
            return int(raw)
        day = self.params.get("financialyeardate")
        found = self.company.year_for(date.fromisoformat(day) if day else self.world.today())
        if found is None:
            raise Refused(codes.NO_FINANCIAL_YEAR)
        return found


def _paged(call: Call, key: str, items: list[dict[str, Any]]) -> Answer:
    limit = min(max(int(call.params.get("limit", "100") or 100), 1), 500)
    pages = max(1, -(-len(items) // limit))
    page = min(max(int(call.params.get("page", "1") or 1), 1), pages)
    meta = {"@TotalResources": len(items), "@TotalPages": pages, "@CurrentPage": page}
    return 200, {"MetaInformation": meta, key: items[(page - 1) * limit : page * limit]}


def _year_json(company: Company, year_id: int) -> dict[str, Any]:
    year = next(y for y in company.tenant.financial_years if y.id == year_id)
    return {
        "Id": year.id,
        "FromDate": year.from_date.isoformat(),
        "ToDate": year.to_date.isoformat(),
        "AccountChartType": year.account_chart_type,
        "AccountingMethod": year.accounting_method,
    }


def financial_years(call: Call) -> Answer:
    ids = [y.id for y in call.company.tenant.financial_years]
    if "date" in call.params:
        found = call.company.year_for(date.fromisoformat(call.params["date"]))
        ids = [found] if found is not None else []
    return 200, {"FinancialYears": [_year_json(call.company, i) for i in ids]}


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
    year, params = call.year(), call.params
    items = [
        {k: v for k, v in voucher.items() if k != "VoucherRows"}
        for voucher in call.company.vouchers[year]
        if params.get("voucherseries", voucher["VoucherSeries"]) == voucher["VoucherSeries"]
        and params.get("fromdate", "0000")
        <= voucher["TransactionDate"]
        <= params.get("todate", "9999")
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
    _, stored = books.create_voucher(call.company, call.token, call.body("Voucher"))
    return 201, {"Voucher": stored}


def company_information(call: Call) -> Answer:
    info = {
        "CompanyName": "Sandbox AB",
        "OrganizationNumber": "556000-0000",
        "DatabaseNumber": int(call.company.tenant.tenant_id)
        if call.company.tenant.tenant_id.isdigit()
        else None,
    }
    info |= call.company.tenant.company
    return 200, {"CompanyInformation": {k: v for k, v in info.items() if v is not None}}


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
    return 200, {"LockedPeriod": {"EndDate": until.isoformat() if until else ""}}


Handler = Callable[[Call], Answer]
ROUTES: list[tuple[str, re.Pattern[str], str, Handler]] = [
    (method, re.compile(f"^{pattern}$"), scope, handler)
    for method, pattern, scope, handler in [
        ("GET", r"/companyinformation", "companyinformation", company_information),
        ("GET", r"/me", "profile", me),
        ("GET", r"/settings/lockedperiod", "settings", locked_period),
        ("GET", r"/financialyears", "bookkeeping", financial_years),
        ("GET", r"/financialyears/(?P<id>\d+)", "bookkeeping", financial_year),
        ("GET", r"/voucherseries", "bookkeeping", series_list),
        ("POST", r"/voucherseries", "bookkeeping", series_post),
        ("GET", r"/voucherseries/(?P<code>[^/]+)", "bookkeeping", series_get),
        ("PUT", r"/voucherseries/(?P<code>[^/]+)", "bookkeeping", series_put),
        ("GET", r"/accounts", "bookkeeping", accounts_list),
        ("POST", r"/accounts", "bookkeeping", account_post),
        ("GET", r"/accounts/(?P<number>\d{1,4})", "bookkeeping", account_get),
        ("PUT", r"/accounts/(?P<number>\d{1,4})", "bookkeeping", account_put),
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
