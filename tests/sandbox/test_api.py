"""The REST subset under /3/: envelopes, per-year resources, paging, and Fortnox's error
answers. Every answer passes the schema checks of ``tests/sandbox/openapi.py`` on its way."""

from __future__ import annotations

import httpx
import pytest

from remediator.sandbox import Sandbox
from tests.sandbox.conftest import (
    StateData,
    bearer,
    changed,
    client_for,
    error_of,
    sandbox_from,
    scenario_data,
    tenant,
    z_report,
)

NOT_FOUND_ACCOUNT = (404, 2000423, "Kan inte hitta kontot.")


async def test_company_information_carries_the_tenant_as_database_number(
    api: httpx.AsyncClient,
) -> None:
    info = (await api.get("/3/companyinformation")).json()["CompanyInformation"]
    assert info == {
        "CompanyName": "Bistro Ljus AB",
        "OrganizationNumber": "559123-4567",
        "City": "Göteborg",
        "DatabaseNumber": 100001,
    }


async def test_me_is_the_user_of_the_grant(api: httpx.AsyncClient) -> None:
    me = (await api.get("/3/me")).json()["MeInformation"]
    assert me == {
        "Id": "u1",
        "Name": "Anna Ek",
        "Email": "anna@example.se",
        "SysAdmin": True,
        "Locale": "sv",
    }


async def test_financial_years_list_by_date_and_by_id(api: httpx.AsyncClient) -> None:
    years = (await api.get("/3/financialyears")).json()["FinancialYears"]
    assert [(y["Id"], y["FromDate"], y["ToDate"]) for y in years] == [
        (1, "2025-01-01", "2025-12-31"),
        (2, "2026-01-01", "2026-12-31"),
    ]
    on_date = (await api.get("/3/financialyears", params={"date": "2026-03-02"})).json()
    assert [y["Id"] for y in on_date["FinancialYears"]] == [2]
    one = (await api.get("/3/financialyears/1")).json()["FinancialYear"]
    assert one["AccountChartType"] == "BAS 2025"
    assert one["AccountingMethod"] == "ACCRUAL"


async def test_no_financial_year_for_a_date_is_an_empty_list_not_an_error(
    api: httpx.AsyncClient,
) -> None:
    answer = await api.get("/3/financialyears", params={"date": "2031-01-01"})
    assert answer.status_code == 200
    assert answer.json() == {"FinancialYears": []}


async def test_an_unknown_financial_year_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.get("/3/financialyears/9")).status_code == 404
    answer = await api.get("/3/accounts/1910", params={"financialyear": 9})
    assert answer.status_code == 404


async def test_series_default_to_the_year_of_today_and_follow_financialyear(
    api: httpx.AsyncClient,
) -> None:
    today = (await api.get("/3/voucherseries")).json()  # the state's today is 2026-03-03
    assert [(s["Code"], s["Year"]) for s in today["VoucherSeriesCollection"]] == [
        ("A", 2),
        ("F", 2),
    ]
    assert today["MetaInformation"] == {
        "@TotalResources": 2,
        "@TotalPages": 1,
        "@CurrentPage": 1,
    }
    first = (await api.get("/3/voucherseries", params={"financialyear": 1})).json()
    assert [s["Code"] for s in first["VoucherSeriesCollection"]] == ["F"]
    by_date = await api.get("/3/voucherseries/F", params={"financialyeardate": "2025-06-01"})
    assert by_date.json()["VoucherSeries"]["NextVoucherNumber"] == 311


async def test_a_series_is_read_created_and_updated_in_one_year_only(
    api: httpx.AsyncClient,
) -> None:
    f = (await api.get("/3/voucherseries/F", params={"financialyear": 2})).json()
    assert f["VoucherSeries"] == {
        "Code": "F",
        "Description": "Kassa",
        "Manual": True,
        "Year": 2,
        "NextVoucherNumber": 61,
    }
    created = await api.post(
        "/3/voucherseries",
        params={"financialyear": 2},
        json={"VoucherSeries": {"Code": "K", "Description": "Kassa 2", "Manual": True}},
    )
    assert created.status_code == 201
    assert created.json()["VoucherSeries"]["Year"] == 2
    updated = await api.put(
        "/3/voucherseries/K",
        params={"financialyear": 2},
        json={"VoucherSeries": {"Manual": False}},
    )
    assert updated.status_code == 200
    assert updated.json()["VoucherSeries"]["Manual"] is False
    assert updated.json()["VoucherSeries"]["Description"] == "Kassa 2"
    other_year = await api.get("/3/voucherseries/K", params={"financialyear": 1})
    assert other_year.status_code == 404


async def test_series_refusals(api: httpx.AsyncClient) -> None:
    duplicate = await api.post(
        "/3/voucherseries", json={"VoucherSeries": {"Code": "F", "Description": "Igen"}}
    )
    assert error_of(duplicate)[:2] == (400, 2000734)
    too_long = await api.post("/3/voucherseries", json={"VoucherSeries": {"Code": "F" * 11}})
    assert error_of(too_long)[:2] == (400, 2000106)
    unknown = await api.put("/3/voucherseries/Q", json={"VoucherSeries": {"Manual": True}})
    assert unknown.status_code == 404


async def test_an_account_is_read_and_an_unknown_one_is_404_2000423(
    api: httpx.AsyncClient,
) -> None:
    account = (await api.get("/3/accounts/1910", params={"financialyear": 2})).json()
    assert account["Account"]["Description"] == "Kassa"
    assert account["Account"]["Active"] is True
    assert account["Account"]["Year"] == 2
    assert error_of(await api.get("/3/accounts/1111")) == NOT_FOUND_ACCOUNT
    assert error_of(await api.get("/3/accounts/19100")) == NOT_FOUND_ACCOUNT
    assert error_of(await api.put("/3/accounts/42", json={"Account": {"Active": True}})) == (
        NOT_FOUND_ACCOUNT
    )


async def test_accounts_are_created_and_updated_per_year(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/3/accounts",
        params={"financialyear": 2},
        json={"Account": {"Number": 3999, "Description": "Övrigt", "Active": True}},
    )
    assert created.status_code == 201
    assert created.json()["Account"]["Number"] == 3999
    assert error_of(await api.get("/3/accounts/3999", params={"financialyear": 1})) == (
        NOT_FOUND_ACCOUNT
    )
    off = await api.put(
        "/3/accounts/3001", params={"financialyear": 2}, json={"Account": {"Active": False}}
    )
    assert off.json()["Account"]["Active"] is False
    assert off.json()["Account"]["Description"] == "Försäljning inom Sverige, 25 % moms"
    year_one = (await api.get("/3/accounts/3001", params={"financialyear": 1})).json()
    assert year_one["Account"]["Active"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"Account": {"Number": 999, "Description": "För litet"}},
        {"Account": {"Number": 3999}},
        {"Account": {"Number": "3999", "Description": "Text"}},
    ],
    ids=["number-out-of-range", "no-description", "number-as-text"],
)
async def test_an_invalid_new_account_is_refused(
    api: httpx.AsyncClient, body: dict[str, object]
) -> None:
    assert error_of(await api.post("/3/accounts", json=body))[:2] == (400, 2000106)


async def test_an_existing_account_cannot_be_created_again(api: httpx.AsyncClient) -> None:
    again = await api.post("/3/accounts", json={"Account": {"Number": 1910, "Description": "K"}})
    assert error_of(again)[:2] == (400, 2000735)


async def test_accounts_page_with_limit_and_page(api: httpx.AsyncClient) -> None:
    total = len(
        (await api.get("/3/accounts", params={"financialyear": 2, "limit": 500})).json()["Accounts"]
    )
    seen: list[int] = []
    pages = -(-total // 10)
    for page in range(1, pages + 1):
        body = (
            await api.get("/3/accounts", params={"financialyear": 2, "limit": 10, "page": page})
        ).json()
        assert body["MetaInformation"] == {
            "@TotalResources": total,
            "@TotalPages": pages,
            "@CurrentPage": page,
        }
        seen += [a["Number"] for a in body["Accounts"]]
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == total
    assert {1580, 1910, 2611, 2621, 3001, 3002, 3740} <= set(seen)


async def test_paging_defaults_to_100_and_caps_limit_at_500() -> None:
    def big_chart(data: StateData) -> None:
        tenant(data)["charts"]["2"]["accounts"] = [
            {"number": n, "description": f"Konto {n}"} for n in range(5000, 5700)
        ]

    sandbox = changed(big_chart)
    async with client_for(sandbox) as http:
        http.headers.update(await bearer(http))
        default = (await http.get("/3/accounts")).json()
        capped = (await http.get("/3/accounts", params={"limit": 9999, "page": 2})).json()
    total = default["MetaInformation"]["@TotalResources"]
    assert total > 700
    assert len(default["Accounts"]) == 100
    assert default["MetaInformation"]["@TotalPages"] == -(-total // 100)
    assert capped["MetaInformation"]["@TotalPages"] == 2
    assert len(capped["Accounts"]) == total - 500


@pytest.mark.parametrize("params", [{"limit": "abc"}, {"page": "-1"}, {"financialyeardate": "x"}])
async def test_malformed_parameters_are_refused(
    api: httpx.AsyncClient, params: dict[str, str]
) -> None:
    assert error_of(await api.get("/3/accounts", params=params))[:2] == (400, 2000106)


async def test_a_voucher_is_numbered_listed_and_read_back(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    posted = await api.post(
        "/3/vouchers", params={"financialyear": 2}, json={"Voucher": z_report(sandbox)}
    )
    assert posted.status_code == 201
    voucher = posted.json()["Voucher"]
    assert (voucher["VoucherSeries"], voucher["VoucherNumber"], voucher["Year"]) == ("F", 61, 2)
    series = (await api.get("/3/voucherseries/F")).json()["VoucherSeries"]
    assert series["NextVoucherNumber"] == 62
    listed = await api.get(
        "/3/vouchers",
        params={
            "financialyear": 2,
            "voucherseries": "F",
            "fromdate": "2026-03-02",
            "todate": "2026-03-02",
        },
    )
    (item,) = listed.json()["Vouchers"]
    assert item["Description"] == "Z-rapport 2026-03-02 Bistro Ljus"
    assert "VoucherRows" not in item
    one = (await api.get("/3/vouchers/F/61", params={"financialyear": 2})).json()["Voucher"]
    assert [row["Account"] for row in one["VoucherRows"]] == [1910, 1580, 3001, 2611, 3002, 2621]


@pytest.mark.parametrize(
    "params",
    [
        {"voucherseries": "A"},
        {"fromdate": "2026-03-03"},
        {"todate": "2026-03-01"},
        {"financialyear": "1"},
    ],
)
async def test_voucher_filters_leave_out_what_does_not_match(
    sandbox: Sandbox, api: httpx.AsyncClient, params: dict[str, str]
) -> None:
    await api.post("/3/vouchers", json={"Voucher": z_report(sandbox)})
    assert (await api.get("/3/vouchers", params=params)).json()["Vouchers"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"voucherseries": "A"},
        {"fromdate": "2026-03-03"},
        {"todate": "2026-03-01"},
        {"voucherseries": "A", "fromdate": "2026-03-03", "todate": "2026-03-03"},
    ],
)
async def test_the_ignore_filters_fault_lists_every_voucher_of_the_year(
    sandbox: Sandbox, api: httpx.AsyncClient, params: dict[str, str]
) -> None:
    await api.post("/3/vouchers", json={"Voucher": z_report(sandbox)})
    sandbox.set_faults(ignore_voucher_filters=True)
    listed = (await api.get("/3/vouchers", params=params | {"financialyear": "2"})).json()
    assert [(v["VoucherSeries"], v["VoucherNumber"]) for v in listed["Vouchers"]] == [("F", 61)]
    other_year = await api.get("/3/vouchers", params=params | {"financialyear": "1"})
    assert other_year.json()["Vouchers"] == []  # the year is still honoured


async def test_404s_answer_with_capitalised_keys_other_refusals_lower_case(
    api: httpx.AsyncClient,
) -> None:
    missing = await api.get("/3/accounts/1234", params={"financialyear": 2})
    assert missing.json() == {
        "ErrorInformation": {"Error": 1, "Message": "Kan inte hitta kontot.", "Code": 2000423}
    }
    refused = await api.post("/3/vouchers", content=b"{")
    assert refused.json() == {
        "ErrorInformation": {"error": 1, "message": "Felaktigt formaterad JSON.", "code": 2002115}
    }


async def test_an_unknown_voucher_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.get("/3/vouchers/F/61")).status_code == 404


async def test_the_locked_period_and_none(api: httpx.AsyncClient) -> None:
    locked = (await api.get("/3/settings/lockedperiod")).json()
    assert locked == {"LockedPeriod": {"EndDate": "2025-12-31"}}
    async with client_for(changed(lambda d: tenant(d).pop("locked_until"))) as http:
        http.headers.update(await bearer(http))
        unlocked = (await http.get("/3/settings/lockedperiod")).json()
    assert unlocked == {"LockedPeriod": {"EndDate": None}}


async def test_malformed_json_is_2002115(api: httpx.AsyncClient) -> None:
    answer = await api.post(
        "/3/accounts", content=b'{"Account": {', headers={"Content-Type": "application/json"}
    )
    assert error_of(answer) == (400, 2002115, "Felaktigt formaterad JSON.")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/3/accounts", {"Account": {"Number": 3999, "Description": "X"}, "Extra": 1}),
        ("/3/accounts", {"Account": {"Number": 3999, "Description": "X", "Colour": "red"}}),
        ("/3/voucherseries", {"VoucherSeries": {"Code": "K", "Manuell": True}}),
        ("/3/vouchers", {"Voucher": {"VoucherSeries": "F", "Datum": "2026-03-02"}}),
    ],
    ids=["beside-envelope", "account-field", "series-field", "voucher-field"],
)
async def test_an_unknown_field_is_2001399(
    api: httpx.AsyncClient, path: str, body: dict[str, object]
) -> None:
    assert error_of(await api.post(path, json=body)) == (400, 2001399, "Okänt fält i förfrågan.")


async def test_an_unknown_field_in_a_voucher_row_is_2001399(
    sandbox: Sandbox, api: httpx.AsyncClient
) -> None:
    voucher = z_report(sandbox)
    voucher["VoucherRows"][0]["Konto"] = 1910
    assert error_of(await api.post("/3/vouchers", json={"Voucher": voucher}))[1] == 2001399


async def test_a_token_without_the_scope_is_2000663() -> None:
    def only_company(data: StateData) -> None:
        data["grants"][0]["scopes"] = ["companyinformation"]

    async with client_for(changed(only_company)) as http:
        http.headers.update(await bearer(http))
        assert (await http.get("/3/companyinformation")).status_code == 200
        for path in ("/3/accounts", "/3/me", "/3/settings/lockedperiod"):
            assert error_of(await http.get(path)) == (
                403,
                2000663,
                "Har inte behörighet för scope",
            )


async def test_a_company_without_the_bookkeeping_licence_is_2001101() -> None:
    async with client_for(changed(lambda d: tenant(d).update(licences=["api"]))) as http:
        http.headers.update(await bearer(http))
        assert (await http.get("/3/companyinformation")).status_code == 200
        assert error_of(await http.get("/3/financialyears")) == (
            400,
            2001101,
            "Det finns ingen aktiv licens för önskat scope",
        )


async def test_a_company_without_the_api_licence_is_2001103() -> None:
    async with client_for(changed(lambda d: tenant(d).update(licences=["bookkeeping"]))) as http:
        http.headers.update(await bearer(http))
        for path in ("/3/companyinformation", "/3/accounts"):
            assert error_of(await http.get(path)) == (400, 2001103, "Api-licens saknas.")


async def test_a_path_the_sandbox_does_not_serve_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.get("/3/invoices")).status_code == 404


async def test_each_tenant_sees_only_its_own_books() -> None:
    data = scenario_data()
    second = scenario_data("series_missing")
    second["grants"][0]["name"] = "sushi"
    data["tenants"] += second["tenants"]
    data["grants"] += second["grants"]
    async with client_for(sandbox_from(data)) as http:
        healthy = await bearer(http)
        other = await bearer(http, "rt-series_missing-1")
        assert (await http.get("/3/voucherseries/F", headers=healthy)).status_code == 200
        assert (await http.get("/3/voucherseries/F", headers=other)).status_code == 404
        info = (await http.get("/3/companyinformation", headers=other)).json()
    assert info["CompanyInformation"]["DatabaseNumber"] == 100005


async def test_a_financial_year_created_ahead_carries_the_chart_and_series(
    api: httpx.AsyncClient,
) -> None:
    body = {"FinancialYear": {"FromDate": "2027-01-01", "ToDate": "2027-12-31"}}
    created = await api.post("/3/financialyears", json=body)
    assert created.status_code == 201
    year = created.json()["FinancialYear"]
    assert (year["Id"], year["FromDate"], year["ToDate"]) == (3, "2027-01-01", "2027-12-31")
    assert year["AccountChartType"] == "BAS 2026"
    on_date = (await api.get("/3/financialyears", params={"date": "2027-01-01"})).json()
    assert [y["Id"] for y in on_date["FinancialYears"]] == [3]
    series = (await api.get("/3/voucherseries/F", params={"financialyear": 3})).json()
    assert series["VoucherSeries"]["Manual"] is True
    assert series["VoucherSeries"]["NextVoucherNumber"] == 1
    account = (await api.get("/3/accounts/3001", params={"financialyear": 3})).json()
    assert account["Account"]["Active"] is True


@pytest.mark.parametrize(
    "year",
    [
        {"FromDate": "2026-06-01", "ToDate": "2027-05-31"},  # overlaps 2026
        {"FromDate": "2027-12-31", "ToDate": "2027-01-01"},  # ends before it starts
        {"FromDate": "2027-01-01"},  # no end
        {"FromDate": "2027-01-01", "ToDate": "2027-12-31", "Colour": "red"},
    ],
)
async def test_a_financial_year_that_cannot_be_is_refused(
    api: httpx.AsyncClient, year: dict[str, str]
) -> None:
    answer = await api.post("/3/financialyears", json={"FinancialYear": year})
    assert answer.status_code == 400
    years = (await api.get("/3/financialyears")).json()["FinancialYears"]
    assert len(years) == 2


async def test_today_moves_with_the_clock_by_whole_days(sandbox: Sandbox) -> None:
    start = sandbox.world.today()
    sandbox.advance(86_399)
    assert sandbox.world.today() == start
    sandbox.advance(2)
    assert (sandbox.world.today() - start).days == 1
