"""A small stateful stand-in for Fortnox on respx, for the engine's unit tests.

End-to-end behaviour is tested against the sandbox; this stand-in keeps unit tests fast and
lets a test inject precise faults (a POST that times out after being stored, say).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import respx

from tests.conftest import API

FY = {"Id": 2, "FromDate": "2026-01-01", "ToDate": "2026-12-31"}


@dataclass
class FakeFortnox:
    series: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"F": {"Code": "F", "Description": "Kassa", "Manual": True}}
    )
    accounts: dict[int, dict[str, Any]] = field(
        default_factory=lambda: {
            n: {"Number": n, "Description": f"Konto {n}", "Active": True}
            for n in (1580, 1910, 2611, 2621, 3001, 3002, 3740)
        }
    )
    vouchers: list[dict[str, Any]] = field(default_factory=list)
    locked_until: str | None = None
    timeout_after_store: bool = False
    writes: list[tuple[str, str]] = field(default_factory=list)

    def install(self, router: respx.Router) -> None:
        router.get(f"{API}/financialyears").mock(side_effect=self._years)
        router.get(url__regex=rf"{API}/voucherseries/(?P<code>\w+)").mock(side_effect=self._series)
        router.put(url__regex=rf"{API}/voucherseries/(?P<code>\w+)").mock(
            side_effect=self._put_series
        )
        router.post(f"{API}/voucherseries").mock(side_effect=self._post_series)
        router.get(url__regex=rf"{API}/accounts/(?P<number>\d+)").mock(side_effect=self._account)
        router.put(url__regex=rf"{API}/accounts/(?P<number>\d+)").mock(
            side_effect=self._put_account
        )
        router.post(f"{API}/accounts").mock(side_effect=self._post_account)
        router.get(f"{API}/accounts").mock(side_effect=self._accounts)
        router.get(f"{API}/vouchers").mock(side_effect=self._list_vouchers)
        router.post(f"{API}/vouchers").mock(side_effect=self._post_voucher)
        router.get(f"{API}/companyinformation").respond(
            json={"CompanyInformation": {"CompanyName": "Bistro AB", "DatabaseNumber": 111111}}
        )
        router.get(f"{API}/me").respond(
            json={"MeInformation": {"Id": "7", "Name": "Anna", "Email": "anna@bistro.se"}}
        )
        router.get(f"{API}/settings/lockedperiod").mock(
            side_effect=lambda _: httpx.Response(
                200, json={"LockedPeriod": {"EndDate": self.locked_until}}
            )
        )

    def _years(self, request: httpx.Request) -> httpx.Response:
        day = request.url.params.get("date", "2026-06-01")
        covered = FY["FromDate"] <= day <= FY["ToDate"]
        return httpx.Response(200, json={"FinancialYears": [FY] if covered else []})

    def _series(self, request: httpx.Request, code: str) -> httpx.Response:
        if code not in self.series:
            return httpx.Response(
                404,
                json={
                    "ErrorInformation": {
                        "error": 1,
                        "message": "Kan inte hitta verifikationsserien.",
                        "code": 2000563,
                    }
                },
            )
        return httpx.Response(200, json={"VoucherSeries": self.series[code] | {"Year": 2}})

    def _put_series(self, request: httpx.Request, code: str) -> httpx.Response:
        self.writes.append(("PUT", request.url.path))
        self.series[code] |= json.loads(request.content)["VoucherSeries"]
        return httpx.Response(200, json={"VoucherSeries": self.series[code] | {"Year": 2}})

    def _post_series(self, request: httpx.Request) -> httpx.Response:
        self.writes.append(("POST", request.url.path))
        body = json.loads(request.content)["VoucherSeries"]
        self.series[body["Code"]] = body
        return httpx.Response(201, json={"VoucherSeries": body | {"Year": 2}})

    def _account(self, request: httpx.Request, number: str) -> httpx.Response:
        if int(number) not in self.accounts:
            return httpx.Response(
                404,
                json={
                    "ErrorInformation": {
                        "error": 1,
                        "message": "Kan inte hitta kontot.",
                        "code": 2000423,
                    }
                },
            )
        return httpx.Response(200, json={"Account": self.accounts[int(number)] | {"Year": 2}})

    def _put_account(self, request: httpx.Request, number: str) -> httpx.Response:
        self.writes.append(("PUT", request.url.path))
        self.accounts[int(number)] |= json.loads(request.content)["Account"]
        return httpx.Response(200, json={"Account": self.accounts[int(number)]})

    def _post_account(self, request: httpx.Request) -> httpx.Response:
        self.writes.append(("POST", request.url.path))
        body = json.loads(request.content)["Account"]
        self.accounts[body["Number"]] = body
        return httpx.Response(201, json={"Account": body})

    def _accounts(self, request: httpx.Request) -> httpx.Response:
        rows = list(self.accounts.values())
        meta = {"@TotalResources": len(rows), "@TotalPages": 1, "@CurrentPage": 1}
        return httpx.Response(200, json={"MetaInformation": meta, "Accounts": rows})

    def _list_vouchers(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        rows = [
            {k: v for k, v in voucher.items() if k != "VoucherRows"}
            for voucher in self.vouchers
            if voucher["VoucherSeries"] == params["voucherseries"]
            and params["fromdate"] <= voucher["TransactionDate"] <= params["todate"]
        ]
        meta = {"@TotalResources": len(rows), "@TotalPages": 1, "@CurrentPage": 1}
        return httpx.Response(200, json={"MetaInformation": meta, "Vouchers": rows})

    def _post_voucher(self, request: httpx.Request) -> httpx.Response:
        self.writes.append(("POST", request.url.path))
        body = json.loads(request.content)["Voucher"]
        series = self.series.get(body["VoucherSeries"])
        if series is None or not series.get("Manual"):
            return httpx.Response(
                400,
                json={
                    "ErrorInformation": {
                        "error": 1,
                        "message": "Verifikationsserien är inte manuell (F)",
                        "code": 2001940,
                    }
                },
            )
        for row in body["VoucherRows"]:
            if not self.accounts.get(row["Account"], {}).get("Active"):
                return httpx.Response(
                    400,
                    json={
                        "ErrorInformation": {
                            "error": 1,
                            "message": f'Konto "{row["Account"]}" är inte aktivt',
                            "code": 2000550,
                        }
                    },
                )
        stored = body | {"VoucherNumber": len(self.vouchers) + 1, "Year": 2}
        self.vouchers.append(stored)
        if self.timeout_after_store:
            self.timeout_after_store = False
            raise httpx.ReadTimeout("the answer never came")
        return httpx.Response(201, json={"Voucher": stored})


def failure_json(
    message: str,
    *,
    code: int | None = None,
    voucher: bool = True,
    event_id: str = "evt-1",
    accounts: tuple[int, int] = (1910, 3001),
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_id": event_id,
        "restaurant": {"id": "r1", "name": "Bistro Ljus"},
        "connection_id": "rest-1",
        "export": {"kind": "z_report", "id": "z-812", "date": "2026-03-02", "voucher_series": "F"},
        "error": {"message": message, "code": code},
    }
    if voucher:
        data["export"]["voucher"] = {
            "Voucher": {
                "VoucherSeries": "F",
                "TransactionDate": "2026-03-02",
                "Description": "Z-rapport 812 Bistro Ljus",
                "VoucherRows": [
                    {"Account": accounts[0], "Debit": 1250.0},
                    {"Account": accounts[1], "Credit": 1000.0},
                    {"Account": 2611, "Credit": 250.0},
                ],
            }
        }
    return data
