"""The schema checks themselves: they must refuse what Fortnox would never answer."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest

from tests.sandbox.openapi import check_answer


def _check(method: str, path: str, status: int, body: Any) -> None:
    check_answer(httpx.Request(method, f"http://sandbox{path}"), httpx.Response(status, json=body))


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/3/accounts/1910", 200, {"Account": {"Number": 1910, "Description": "K", "X": 1}}),
        ("GET", "/3/accounts/1910", 200, {"Account": {"Number": 1910}}),
        ("GET", "/3/accounts/1910", 200, {"Accounts": []}),
        ("GET", "/3/accounts/1910", 200, {}),
        ("GET", "/3/settings/lockedperiod", 200, {"LockedPeriod": {"EndDate": ""}}),
        ("GET", "/3/financialyears", 200, {"FinancialYears": [{"FromDate": "2026-01-01"}]}),
        ("GET", "/3/vouchers/F/1", 200, {"MetaInformation": {}, "Voucher": {}}),
        ("POST", "/3/vouchers", 200, {"Voucher": {}}),
        ("GET", "/3/me", 400, {"ErrorInformation": {"error": 1, "message": "x"}}),
        ("GET", "/3/me", 400, {"ErrorInformation": {"Error": 1, "Message": "x", "Code": 7}}),
        ("GET", "/3/me", 404, {"ErrorInformation": {"error": 1, "message": "x", "code": 7}}),
        (
            "GET",
            "/3/me",
            404,
            {"ErrorInformation": {"Error": 1, "error": 1, "Message": "x", "Code": 7}},
        ),
        ("GET", "/3/me", 401, {"message": "Unauthorized"}),
    ],
    ids=[
        "unknown-key",
        "required-missing",
        "wrong-envelope",
        "no-envelope",
        "empty-date",
        "year-without-to-date",
        "meta-on-a-single-item",
        "post-answered-200",
        "error-without-code",
        "400-capitalised",
        "404-lower-case",
        "404-both-cases",
        "401-other-text",
    ],
)
def test_the_checks_refuse_what_fortnox_would_not_answer(
    method: str, path: str, status: int, body: Any
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        _check(method, path, status, body)


def test_the_checks_accept_the_documented_relaxations() -> None:
    meta = {"@TotalResources": 0, "@TotalPages": 1, "@CurrentPage": 1}
    _check("GET", "/3/accounts", 200, {"MetaInformation": meta, "Accounts": []})
    _check("GET", "/3/settings/lockedperiod", 200, {"LockedPeriod": {"EndDate": None}})
    _check("GET", "/3/me", 404, {"ErrorInformation": {"Error": 1, "Message": "x", "Code": 7}})
    _check("GET", "/3/me", 400, {"ErrorInformation": {"error": 1, "message": "x", "code": 7}})
