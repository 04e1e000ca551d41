"""Posting a voucher: every precondition Fortnox checks, refused with Fortnox's code and
Swedish text, and nothing stored when refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from remediator.sandbox import Sandbox
from remediator.sandbox.state import load_scenario
from tests.sandbox.conftest import (
    StateData,
    bearer,
    changed,
    client_for,
    error_of,
    tenant,
    z_report,
)

Voucher = dict[str, Any]


def _nothing(_: Any) -> None:
    return None


@dataclass(frozen=True)
class Precondition:
    name: str
    status: int
    code: int
    message: str
    state: Callable[[StateData], None] = _nothing
    voucher: Callable[[Voucher], None] = _nothing


def _year_two_series(data: StateData) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = tenant(data)["series"]["2"]
    return found


def _series_f_not_manual(data: StateData) -> None:
    next(s for s in _year_two_series(data) if s["code"] == "F")["manual"] = False


def _series_f_only_last_year(data: StateData) -> None:
    tenant(data)["series"]["2"] = [s for s in _year_two_series(data) if s["code"] != "F"]


def _chart_without_3001(data: StateData) -> None:
    tenant(data)["charts"]["2"]["missing"] = [3001]


def _3001_inactive(data: StateData) -> None:
    tenant(data)["charts"]["2"]["inactive"] = [3001]


def _locked_through_march(data: StateData) -> None:
    tenant(data)["locked_until"] = "2026-03-31"


def _no_bookkeeping_scope(data: StateData) -> None:
    data["grants"][0]["scopes"] = ["companyinformation", "settings", "profile"]


def _user_may_not_book(data: StateData) -> None:
    tenant(data)["users"][0]["may_book"] = False


def _in_2027(voucher: Voucher) -> None:
    voucher["TransactionDate"] = "2027-03-02"


def _series_k(voucher: Voucher) -> None:
    voucher["VoucherSeries"] = "K"


def _no_accounts(voucher: Voucher) -> None:
    for row in voucher["VoucherRows"]:
        row["Account"] = 0


def _one_krona_off(voucher: Voucher) -> None:
    voucher["VoucherRows"][0]["Debit"] += 1


def _one_row_rounded_away(voucher: Voucher) -> None:
    voucher["VoucherRows"] = [  # a day of 0.004 kr: every amount rounded to 0.00
        {"Account": 1910, "Debit": 0.0, "Credit": 0},
        {"Account": 3001, "Debit": 0, "Credit": 0.0},
    ]


def _cost_centre_ks1_inactive(data: StateData) -> None:
    tenant(data)["cost_centres"] = [{"code": "KS1", "description": "Kök", "active": False}]


def _on_ks1(voucher: Voucher) -> None:
    voucher["VoucherRows"][0]["CostCenter"] = "KS1"


def _1910_needs_a_cost_centre(data: StateData) -> None:
    tenant(data)["charts"]["2"]["cost_centre_required"] = [1910]


PRECONDITIONS = [
    Precondition("no-financial-year", 400, 2000930, "Räkenskapsår saknas för valt datum", voucher=_in_2027),
    Precondition("series-missing", 400, 2001939, "Ogiltig verifikationsserie angiven", voucher=_series_k),
    Precondition("series-missing-in-that-year", 400, 2001939, "Ogiltig verifikationsserie angiven", state=_series_f_only_last_year),
    Precondition("series-not-manual", 400, 2001940, "Verifikationsserien är inte manuell (F)", state=_series_f_not_manual),
    Precondition("no-valid-account", 400, 2001265, "Ogiltigt konto", voucher=_no_accounts),
    Precondition("account-missing", 400, 2001304, "Kunde inte hitta konto", state=_chart_without_3001),
    Precondition("account-inactive", 400, 2000550, 'Konto "3001" är inte aktivt', state=_3001_inactive),
    Precondition("period-locked", 400, 2000401, "Redovisningskonsult har låst perioden t.o.m. 2026-03-31", state=_locked_through_march),
    Precondition("unbalanced", 400, 2000722, "verifikation balanserar ej", voucher=_one_krona_off),
    Precondition("fewer-than-two-rows", 400, 2001897, "Verifikationen måste innehålla minst två rader.", voucher=_one_row_rounded_away),
    Precondition("cost-centre-inactive", 400, 2000947, 'Angivet kostnadsställe "KS1" är inte aktivt', state=_cost_centre_ks1_inactive, voucher=_on_ks1),
    Precondition("cost-centre-required", 400, 2000946, "Kostnadsställe är obligatoriskt på konto: 1910", state=_1910_needs_a_cost_centre),
    Precondition("no-bookkeeping-scope", 403, 2000663, "Har inte behörighet för scope", state=_no_bookkeeping_scope),
    Precondition("user-may-not-book", 403, 2002455, "Saknar behörighet för att bokföra verifikationer", state=_user_may_not_book),
]  # fmt: skip


@pytest.mark.parametrize("case", PRECONDITIONS, ids=[p.name for p in PRECONDITIONS])
async def test_each_precondition_refuses_with_fortnox_code_and_text(case: Precondition) -> None:
    sandbox = changed(case.state)
    voucher = z_report(sandbox)
    case.voucher(voucher)
    async with client_for(sandbox) as http:
        http.headers.update(await bearer(http))
        answer = await http.post("/3/vouchers", json={"Voucher": voucher})
        assert error_of(answer) == (case.status, case.code, case.message)
        assert sandbox.requests[-1]["code"] == case.code
        for year in sandbox.world.companies["100001"].vouchers.values():
            assert year == []
        series = sandbox.world.companies["100001"].series[2].get("F")
        assert series is None or series.next_number == 61


async def test_the_healthy_z_report_passes_every_precondition(sandbox: Sandbox) -> None:
    async with client_for(sandbox) as http:
        http.headers.update(await bearer(http))
        answer = await http.post("/3/vouchers", json={"Voucher": z_report(sandbox)})
    assert answer.status_code == 201


async def test_the_date_decides_the_year_and_numbering_is_per_year_and_series(
    sandbox: Sandbox,
) -> None:
    last_year = z_report(sandbox) | {"TransactionDate": "2025-06-02"}
    async with client_for(changed(lambda d: tenant(d).pop("locked_until"))) as http:
        http.headers.update(await bearer(http))
        numbers = [
            (await http.post("/3/vouchers", json={"Voucher": body})).json()["Voucher"]
            for body in (z_report(sandbox), z_report(sandbox), last_year)
        ]
    assert [(v["Year"], v["VoucherNumber"]) for v in numbers] == [(2, 61), (2, 62), (1, 311)]


@pytest.mark.parametrize(
    ("financialyear", "status", "code"),
    [("2", 201, None), ("1", 400, 2000931), ("9", 404, 2000565)],
)
async def test_financialyear_on_a_voucher_post_is_honoured(
    sandbox: Sandbox, financialyear: str, status: int, code: int | None
) -> None:
    async with client_for(sandbox) as http:
        http.headers.update(await bearer(http))
        answer = await http.post(
            "/3/vouchers",
            params={"financialyear": financialyear},
            json={"Voucher": z_report(sandbox)},
        )
    assert answer.status_code == status
    stored = sandbox.world.companies["100001"].vouchers
    if code is None:
        assert answer.json()["Voucher"]["Year"] == 2
        assert [v["Year"] for v in stored[2]] == [2]
    else:
        assert error_of(answer)[:2] == (status, code)
        assert stored == {1: [], 2: []}


@pytest.mark.parametrize(
    "voucher",
    [
        {"VoucherSeries": "F", "TransactionDate": "2 mars", "VoucherRows": []},
        {"VoucherSeries": "F", "TransactionDate": "2026-03-02", "VoucherRows": ["x", "y"]},
    ],
    ids=["bad-date", "rows-not-objects"],
)
async def test_a_malformed_voucher_is_2000106(sandbox: Sandbox, voucher: Voucher) -> None:
    async with client_for(sandbox) as http:
        http.headers.update(await bearer(http))
        answer = await http.post("/3/vouchers", json={"Voucher": voucher})
    assert error_of(answer)[:2] == (400, 2000106)


@pytest.mark.parametrize(
    ("scenario", "code"),
    [
        ("healthy", None),
        ("series_not_manual", 2001940),
        ("chart_of_accounts_missing", 2001265),
        ("account_inactive", 2000550),
        ("series_missing", 2001939),
        ("access_denied", 2002455),
    ],
)
async def test_each_shipped_scenario_fails_its_z_report_as_the_backoffice_saw(
    scenario: str, code: int | None
) -> None:
    sandbox = Sandbox(load_scenario(scenario))
    grant = sandbox.example("z_report")["grant"]
    refresh_token = next(g.refresh_token for g in sandbox.world.state.grants if g.name == grant)
    async with client_for(sandbox) as http:
        http.headers.update(await bearer(http, refresh_token))
        answer = await http.post("/3/vouchers", json={"Voucher": z_report(sandbox)})
    if code is None:
        assert answer.status_code == 201
    else:
        assert answer.json()["ErrorInformation"]["code"] == code


async def test_cost_centres_are_read_and_activated_with_the_costcenter_scope() -> None:
    def state(data: StateData) -> None:
        _cost_centre_ks1_inactive(data)
        data["grants"][0]["scopes"] = ["bookkeeping", "profile", "costcenter"]

    sandbox = changed(state)
    async with client_for(sandbox) as http:
        http.headers.update(await bearer(http))
        listed = (await http.get("/3/costcenters")).json()
        assert listed["CostCenters"] == [
            {"Code": "KS1", "Description": "Kök", "Note": "", "Active": False}
        ]
        put = await http.put("/3/costcenters/KS1", json={"CostCenter": {"Active": True}})
        assert put.json()["CostCenter"]["Active"] is True
        assert error_of(await http.get("/3/costcenters/NOPE"))[:2] == (404, 2000566)
        voucher = z_report(sandbox)
        _on_ks1(voucher)
        assert (await http.post("/3/vouchers", json={"Voucher": voucher})).status_code == 201


async def test_cost_centres_need_the_costcenter_scope() -> None:
    sandbox = changed(_cost_centre_ks1_inactive)
    async with client_for(sandbox) as http:
        http.headers.update(await bearer(http))
        assert error_of(await http.get("/3/costcenters/KS1"))[:2] == (403, 2000663)


async def test_a_voucher_refusal_fault_refuses_every_voucher_post(sandbox: Sandbox) -> None:
    sandbox.set_faults(voucher_refusal={"code": 2000588, "message": "Något oväntat"})
    async with client_for(sandbox) as http:
        http.headers.update(await bearer(http))
        answer = await http.post("/3/vouchers", json={"Voucher": z_report(sandbox)})
    assert error_of(answer) == (400, 2000588, "Något oväntat")
