"""Every model against the matching schema of Fortnox's own OpenAPI document."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from remediator.fortnox import (
    Account,
    Chart,
    CompanyInformation,
    FinancialYear,
    LockedPeriod,
    Me,
    MetaInformation,
    Voucher,
    VoucherRow,
    VoucherSeries,
)
from remediator.fortnox._models import FortnoxModel

SPEC = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "fortnox-openapi-subset.json").read_text()
)
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]

# model -> the spec schemas whose properties its aliases must come from
MATCHING: dict[type[FortnoxModel], list[str]] = {
    FinancialYear: ["fortnox_FinancialYear"],
    VoucherSeries: ["fortnox_VoucherSeries"],
    Account: ["fortnox_AccountSingleItem"],
    VoucherRow: ["fortnox_Voucher_VoucherRow"],
    Voucher: ["fortnox_Voucher"],
    CompanyInformation: ["fortnox_CompanyInfo"],
    Me: ["fortnox_Me"],
    LockedPeriod: ["fortnox_LockedPeriod"],
}

SAMPLES: list[tuple[FortnoxModel, str]] = [
    (
        FinancialYear.model_validate(
            {
                "Id": 2,
                "FromDate": "2026-01-01",
                "ToDate": "2026-12-31",
                "AccountChartType": "BAS 2026",
                "AccountingMethod": "ACCRUAL",
            }
        ),
        "fortnox_FinancialYear",
    ),
    (
        VoucherSeries.model_validate(
            {"Code": "F", "Description": "Kassa", "Manual": True, "Year": 2, "NextVoucherNumber": 4}
        ),
        "fortnox_VoucherSeries",
    ),
    (
        Account.model_validate(
            {
                "Number": 3001,
                "Description": "Försäljning 25 %",
                "Active": True,
                "Year": 2,
                "SRU": 7410,
                "VATCode": "MP1",
                "CostCenterSettings": "ALLOWED",
            }
        ),
        "fortnox_AccountSingleItem",
    ),
    (
        Voucher.model_validate(
            {
                "VoucherSeries": "F",
                "TransactionDate": "2026-03-02",
                "Description": "Z-rapport",
                "Year": 2,
                "VoucherRows": [
                    {"Account": 1910, "Debit": 125.0, "Credit": 0.0},
                    {"Account": 3001, "Debit": 0.0, "Credit": 125.0},
                ],
            }
        ),
        "fortnox_Voucher",
    ),
    (
        CompanyInformation.model_validate(
            {
                "CompanyName": "Bistro AB",
                "DatabaseNumber": 111111,
                "OrganizationNumber": "556000-0000",
            }
        ),
        "fortnox_CompanyInfo",
    ),
    (
        Me.model_validate(
            {
                "Id": "1",
                "Name": "Anna",
                "Email": "anna@example.se",
                "SysAdmin": False,
                "Locale": "sv",
            }
        ),
        "fortnox_Me",
    ),
    (LockedPeriod.model_validate({"EndDate": "2026-02-28"}), "fortnox_LockedPeriod"),
]


def _resolved(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}


@pytest.mark.parametrize(("model", "schemas"), MATCHING.items(), ids=str)
def test_every_alias_is_a_property_of_the_spec(
    model: type[FortnoxModel], schemas: list[str]
) -> None:
    properties = {key for name in schemas for key in SCHEMAS[name]["properties"]}
    aliases = {field.alias or name for name, field in model.model_fields.items()}
    assert aliases <= properties, aliases - properties


def test_meta_information_aliases() -> None:
    meta = MetaInformation.model_validate(
        {"@TotalResources": "1200", "@TotalPages": 3, "@CurrentPage": "2"}
    )
    assert (meta.total_resources, meta.total_pages, meta.current_page) == (1200, 3, 2)


@pytest.mark.parametrize(("sample", "schema"), SAMPLES, ids=lambda v: type(v).__name__)
def test_payload_validates_against_the_spec(sample: FortnoxModel, schema: str) -> None:
    jsonschema.validate(sample.payload(), _resolved(schema))


@pytest.mark.parametrize(("sample", "schema"), SAMPLES, ids=lambda v: type(v).__name__)
def test_round_trip_through_the_spec_shape(sample: FortnoxModel, schema: str) -> None:
    assert type(sample).model_validate(sample.payload()) == sample


def test_new_voucher_payload_leaves_out_read_only_fields() -> None:
    voucher = Voucher.model_validate(
        {
            "VoucherSeries": "F",
            "TransactionDate": "2026-03-02",
            "VoucherNumber": 7,
            "Year": 2,
            "ApprovalState": 0,
            "VoucherRows": [{"Account": 1910, "Debit": 10}, {"Account": 3001, "Credit": 10}],
        }
    )
    payload = voucher.new_voucher_payload()
    assert {"VoucherNumber", "Year", "ApprovalState"}.isdisjoint(payload)
    body = {"Voucher": payload | {"Description": "Z-rapport", "Year": 2}}
    jsonschema.validate(body, _resolved("fortnox_Voucher_Wrap"))


def test_keys_in_any_case_and_unknown_keys_ignored() -> None:
    account = Account.model_validate(
        {"number": 1910, "DESCRIPTION": "Kassa", "active": False, "@url": "x", "Whatever": 1}
    )
    assert (account.number, account.description, account.active) == (1910, "Kassa", False)


def test_financial_year_accepts_older_account_charts_key() -> None:
    year = FinancialYear.model_validate(
        {"Id": 1, "FromDate": "2026-01-01", "ToDate": "2026-12-31", "accountCharts": "BAS 2014"}
    )
    assert year.account_chart_type == "BAS 2014"
    assert year.covers(date(2026, 6, 1))
    assert not year.covers(date(2027, 1, 1))


def test_me_id_may_come_as_a_number_and_locked_period_may_be_empty() -> None:
    assert Me.model_validate({"Id": 17}).id == "17"
    assert LockedPeriod.model_validate({"EndDate": ""}).end_date is None
    assert LockedPeriod.model_validate({"EndDate": None}).locks(date(2026, 1, 1)) is False
    assert LockedPeriod.model_validate({"EndDate": "2026-02-28"}).locks(date(2026, 2, 28))


def test_voucher_accounts_in_order_of_first_use() -> None:
    voucher = Voucher.model_validate(
        {
            "VoucherSeries": "F",
            "TransactionDate": "2026-03-02",
            "VoucherRows": [
                {"Account": 1910, "Debit": 1},
                {"Account": 3001, "Credit": 1},
                {"Account": 1910, "Debit": 1},
            ],
        }
    )
    assert voucher.accounts() == [1910, 3001]


def test_a_chart_validates_only_the_accounts_looked_up() -> None:
    chart = Chart(
        [
            {"Number": 3001, "Description": "Försäljning", "Active": False},
            {"number": "1910", "description": "Kassa"},  # any key case, a number as text
            {"Number": 2640, "Description": ""},  # not a valid account: never looked up here
            {"Description": "no number"},
            "not an object",
        ]
    )
    assert sorted(chart) == [1910, 2640, 3001]
    assert chart[3001] == Account(number=3001, description="Försäljning", active=False)
    assert chart[1910].description == "Kassa"
    assert chart.get(4000) is None
    with pytest.raises(ValueError, match="Description"):
        chart[2640]  # the lookup is what validates


def test_a_chart_keeps_what_the_run_changed() -> None:
    chart = Chart([{"Number": 3001, "Description": "Försäljning", "Active": False}])
    chart[3001] = Account(number=3001, description="Försäljning", active=True)
    chart[3740] = Account(number=3740, description="Öresavrundning", active=True)
    assert chart[3001].active is True
    assert len(chart) == 2
    del chart[3740]
    assert list(chart) == [3001]
