"""Request budgets: what each playbook costs on the sandbox, by method, and that the playbook's
``budget`` is an upper bound the worst realistic case reaches exactly (so it is also tight).

Counts are Fortnox API requests (``/3/``) in a run where Fortnox answers every request the
first time; token calls are counted apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from remediator.failure import ExportFailure
from remediator.kinds import ErrorKind, Kind
from remediator.report import Outcome, Report
from remediator.sandbox.state import Account
from tests.e2e.conftest import OpenRig, provoke
from tests.e2e.expectations import EXPECTED
from tests.e2e.support import CLEARS, Rig, healthy_state, state_for
from tests.shipped import shipped_kinds

ByMethod = dict[str, int]

# The typical case of each kind: the error exactly as the sandbox (Fortnox) gives it for the
# shipped example Z-report (6 accounts). Plan, then the first fix.
TYPICAL: dict[Kind, tuple[ByMethod, ByMethod]] = {
    ErrorKind.SERIES_NOT_MANUAL: ({"GET": 3}, {"GET": 3, "PUT": 1, "POST": 1}),
    ErrorKind.CHART_OF_ACCOUNTS_MISSING: ({"GET": 2}, {"GET": 2}),
    ErrorKind.ACCOUNT_INACTIVE: ({"GET": 3}, {"GET": 3, "PUT": 1, "POST": 1}),
    ErrorKind.SERIES_MISSING: ({"GET": 3}, {"GET": 3, "POST": 2}),
    # me, year, search; the fix sends the voucher, which Fortnox refuses (the user may not book)
    ErrorKind.ACCESS_DENIED: ({"GET": 3}, {"GET": 3, "POST": 1}),
    ErrorKind.CONNECTION_INVALIDATED: ({}, {}),  # the grant is dead: no API request
    ErrorKind.FINANCIAL_YEAR_MISSING: ({"GET": 1}, {"GET": 1}),
    ErrorKind.PERIOD_LOCKED: ({"GET": 1}, {"GET": 1}),
    ErrorKind.SCOPE_MISSING: ({"GET": 1}, {"GET": 1}),
    ErrorKind.LICENSE_MISSING: ({"GET": 2}, {"GET": 2}),  # me, the year's read refused
    ErrorKind.ACCOUNT_MISSING: ({"GET": 3}, {"GET": 3, "POST": 2}),
    ErrorKind.FORTNOX_UNAVAILABLE: ({"GET": 3}, {"GET": 3, "POST": 1}),
    ErrorKind.DIMENSION_INVALID: ({"GET": 3}, {"GET": 3, "PUT": 1, "POST": 1}),  # KS1 named
    ErrorKind.VOUCHER_INVALID: ({}, {}),  # the failure's voucher is all it reads
    ErrorKind.UNRECOGNIZED: ({}, {}),
}


def _api_counts(requests: list[dict[str, Any]]) -> ByMethod:
    return dict(Counter(r["method"] for r in requests if r["path"].startswith("/3/")))


async def _plan_and_fix(
    rig: Rig, failure: ExportFailure, *, reviewed: bool
) -> tuple[Report, Report, ByMethod, ByMethod]:
    plan, during_plan = await rig.run(failure, "plan")
    fix, during_fix = await rig.run(failure, "apply", reviewed=reviewed)
    for report, requests in ((plan, during_plan), (fix, during_fix)):
        assert report.requests.by_method == _api_counts(requests), "report and sandbox disagree"
    return plan, fix, _api_counts(during_plan), _api_counts(during_fix)


@pytest.mark.parametrize("kind", shipped_kinds())
async def test_typical_requests_by_method_within_budget(open_rig: OpenRig, kind: Kind) -> None:
    rig, failure = await provoke(open_rig, kind)
    plan, fix, planned, fixed = await _plan_and_fix(rig, failure, reviewed=EXPECTED[kind].reviewed)
    assert (planned, fixed) == TYPICAL[kind]
    playbook = rig.runtime.catalogue.playbook(kind)
    if playbook is None:
        assert kind == ErrorKind.UNRECOGNIZED
        return
    assert sum(planned.values()) <= playbook.budget.plan
    assert sum(fixed.values()) <= playbook.budget.apply
    assert plan.requests.token_calls == fix.requests.token_calls == 0


# -- the worst realistic case of each playbook, which must reach its budget exactly ----------

# A Z-report on all 12 BAS restaurant accounts of REFERENCE.md (cash, card, Swish to the bank,
# gift cards, three VAT rates and VAT-free sales, rounding), balanced.
FULL_ROWS = [
    (1910, 576.40, 0),
    (1580, 1500.0, 0),
    (1930, 500.0, 0),
    (3001, 0, 800.0),
    (2611, 0, 200.0),
    (3002, 0, 1000.0),
    (2621, 0, 120.0),
    (3003, 0, 100.0),
    (2631, 0, 6.0),
    (3004, 0, 50.0),
    (2420, 0, 300.0),
    (3740, 0, 0.40),
]


def full_voucher(rig: Rig) -> dict[str, Any]:
    rows = [{"Account": a, "Debit": d, "Credit": c} for a, d, c in FULL_ROWS]
    return rig.voucher_body(VoucherRows=rows)


def _chart_of(state: Any, pages: int) -> None:
    """Year 2's chart padded to ``pages`` pages of 500 accounts."""
    chart = state.tenants[0].charts["2"]
    present = len(chart.expand())
    chart.accounts = [
        Account(number=n, description=f"Konto {n}")
        for n in range(8500, 8500 + 500 * pages - present)
    ]
    assert len(chart.expand()) == 500 * pages


async def _two_accounts_on_a_big_chart(open_rig: OpenRig, kind: Kind) -> tuple[Rig, ExportFailure]:
    """A full BAS-sized chart (three pages), the 12-account Z-report, and two accounts it uses
    to fix: 3001 and 2611 inactive, or 3001 missing and 2611 inactive."""
    state = state_for(kind)
    _chart_of(state, 3)
    chart = state.tenants[0].charts["2"]
    chart.inactive = [3001, 2611] if kind == ErrorKind.ACCOUNT_INACTIVE else [2611]
    rig = await open_rig(state)
    return rig, await rig.export(full_voucher(rig))


async def _big_chart(open_rig: OpenRig, kind: Kind) -> tuple[Rig, ExportFailure]:
    state = state_for(kind)
    _chart_of(state, 3)
    rig = await open_rig(state)
    return rig, await rig.export()


async def _live_grant(open_rig: OpenRig, _kind: Kind) -> tuple[Rig, ExportFailure]:
    rig = await open_rig(healthy_state())
    return rig, rig.failure(
        {"message": "Kopplingen har invaliderats av Fortnox"}, rig.voucher_body()
    )


async def _stored_after_a_timeout(open_rig: OpenRig, _kind: Kind) -> tuple[Rig, ExportFailure]:
    rig = await open_rig(healthy_state())
    rig.sandbox.set_faults(timeout_after_write=1)
    return rig, await rig.export()  # stored, never answered: found by its description and rows


async def _dimension_unnamed(open_rig: OpenRig, kind: Kind) -> tuple[Rig, ExportFailure]:
    """The code alone (no cost centre, no account named), a 1,500-account chart: the cost
    centre on the rows is read, and the chart in 3 pages for accounts that require one."""
    state = state_for(kind)
    chart = state.tenants[0].charts["2"]
    present = len(chart.expand())
    chart.accounts = [
        Account(number=n, description=f"Konto {n}") for n in range(8500, 8500 + 1500 - present)
    ]
    rig = await open_rig(state)
    body = rig.voucher_body()
    return rig, rig.failure({"message": "Fel vid export", "code": 2000947}, body)


async def _cleared(open_rig: OpenRig, kind: Kind) -> tuple[Rig, ExportFailure]:
    rig, failure = await provoke(open_rig, kind)
    await CLEARS[kind](rig)
    return rig, failure


Provoke = Callable[[OpenRig, Kind], Awaitable[tuple[Rig, ExportFailure]]]


@dataclass(frozen=True)
class Worst:
    provoke: Provoke
    why: str
    outcome: Outcome | None = None  # when not the kind's usual fix outcome


CLEARED = "the cause cleared: re-checked, the voucher searched and re-sent"


WORST: dict[Kind, Worst] = {
    ErrorKind.ACCOUNT_INACTIVE: Worst(_two_accounts_on_a_big_chart, "3 pages, 2 inactive"),
    ErrorKind.ACCOUNT_MISSING: Worst(
        _two_accounts_on_a_big_chart, "3 pages, 1 missing, 1 inactive"
    ),
    ErrorKind.CHART_OF_ACCOUNTS_MISSING: Worst(_big_chart, "a 1,500-account chart: 3 pages"),
    ErrorKind.CONNECTION_INVALIDATED: Worst(
        _live_grant, "the refresh works: re-send", Outcome.FIXED
    ),
    ErrorKind.FORTNOX_UNAVAILABLE: Worst(
        _stored_after_a_timeout, "the voucher is read in full", Outcome.NOTHING_TO_FIX
    ),
    **{kind: Worst(_cleared, CLEARED, Outcome.FIXED) for kind in CLEARS},
    ErrorKind.DIMENSION_INVALID: Worst(_dimension_unnamed, "nothing named, 3 chart pages"),
}
PLAYBOOK_KINDS = shipped_kinds(unrecognized=False)


@pytest.mark.parametrize("kind", PLAYBOOK_KINDS)
async def test_the_worst_case_reaches_the_budget_exactly(open_rig: OpenRig, kind: Kind) -> None:
    worst = WORST.get(kind)
    counted: dict[str, int] = {}
    for mode in ("plan", "apply"):  # each on a fresh rig: a plan may change what a fix finds
        rig, failure = await (worst.provoke(open_rig, kind) if worst else provoke(open_rig, kind))
        report, requests = await rig.run(failure, mode, reviewed=EXPECTED[kind].reviewed)
        assert report.requests.by_method == _api_counts(requests)
        counted[mode] = sum(report.requests.by_method.values())
        if mode == "apply":
            assert report.outcome is ((worst and worst.outcome) or EXPECTED[kind].fix)
    budget = rig.playbook(kind).budget
    assert counted == {"plan": budget.plan, "apply": budget.apply}
