"""Places among the restaurants a process works on at a time (``Companies.admitted``)."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any, cast

from remediator import companies as companies_module
from remediator.companies import Companies, CompanyBudget, company_key, connection_key
from remediator.fortnox import SlidingWindowLimiter
from remediator.storage import Database
from remediator.storage.leases import Lease, Leases, LeaseStore, Spent, this_process


def _companies(places: int) -> Companies:
    companies = Companies(cast("Any", None), cast("Any", None), cast("Any", None))
    companies.max_companies = places
    return companies


async def test_at_most_max_companies_restaurants_at_work_and_a_burst_joins_its_own() -> None:
    companies = _companies(2)
    inside: dict[str, int] = {}
    most = 0
    order: list[str] = []

    async def run(connection_id: str) -> None:
        nonlocal most
        async with companies.admitted(connection_id):
            inside[connection_id] = inside.get(connection_id, 0) + 1
            most = max(most, len(inside))
            order.append(connection_id)
            await asyncio.sleep(0.01)
            inside[connection_id] -= 1
            if not inside[connection_id]:
                del inside[connection_id]

    # three runs for each of four restaurants, arriving together
    await asyncio.gather(*(run(f"c{n}") for _ in range(3) for n in range(4)))
    assert most == 2
    # each restaurant's runs went while it had its place: c0 and c1 first, whole, then c2, c3
    assert set(order[:6]) == {"c0", "c1"}
    assert set(order[6:]) == {"c2", "c3"}
    assert companies._admissions == {}


async def test_a_run_that_leaves_while_waiting_gives_no_place_away() -> None:
    companies = _companies(1)
    inside = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with companies.admitted("a"):
            inside.set()
            await release.wait()

    first = asyncio.create_task(holder())
    await inside.wait()
    waiting = asyncio.create_task(companies.admitted("b").__aenter__())
    await asyncio.sleep(0.01)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    release.set()
    await first
    async with asyncio.timeout(1):  # the place is free again
        async with companies.admitted("c"):
            pass
    assert companies._admissions == {}


async def test_a_lease_holder_is_never_kept_waiting(database: Database) -> None:
    companies = _companies(1)
    leases = Leases(LeaseStore(database), ttl=5)
    release = asyncio.Event()
    inside = asyncio.Event()

    async def other() -> None:
        async with companies.admitted("a"):
            inside.set()
            await release.wait()

    task = asyncio.create_task(other())
    await inside.wait()
    # holds a lease: goes ahead
    async with leases.hold("tenant:1"), asyncio.timeout(1), companies.admitted("b"):
        pass
    release.set()
    await task


def test_the_days_a_burst_search_covers_are_what_the_registrations_name_now() -> None:
    companies = _companies(1)
    march = [date(2026, 3, day) for day in (1, 2, 3)]
    with companies.expecting_vouchers("c0", [("f", march[0])]) as drain:
        assert companies.burst("c0", "F") == [march[0]]
        drain.now([("F", march[1]), ("F", march[2]), ("G", march[0])])  # what it learnt later
        assert companies.burst("c0", " f ") == march[1:]
        assert companies.burst("c0", "G") == [march[0]]
        with companies.expecting_vouchers("c0", [("F", march[1])]):  # a run of the same day
            drain.now([])
            assert companies.burst("c0", "F") == [march[1]]
        assert companies.burst("c0", "F") == []
    assert companies._expected == {}


async def test_a_company_s_budget_is_the_limiter_s_window_of_its_tenant() -> None:
    """``CompanyBudget`` maps a company's lease key to the window the connector paces the
    company's requests in (its tenant id; a connection not yet known by its own key)."""
    limiter = SlidingWindowLimiter(25, 5.0, 0.0)
    budget = CompanyBudget(limiter)
    assert budget.spent(company_key("t1")) is None  # nothing sent: nothing to hand over
    (await limiter.acquire("t1")).release()
    spent = budget.spent(company_key("t1"))
    assert spent is not None
    assert (spent.process, len(spent.ages)) == (this_process(), 1)
    budget.count(company_key("t2"), spent)
    budget.count(connection_key("c9"), Spent("elsewhere:1", (0.0, 0.5)))
    assert (limiter.in_window("t2"), limiter.in_window("connection:c9")) == (1, 2)


def test_memories_and_ledgers_no_longer_used_are_let_go(monkeypatch: Any) -> None:
    """A service meets thousands of companies: what one left is not kept until it comes back."""
    monkeypatch.setattr(companies_module, "MEMORY_SECONDS", 0.05)
    monkeypatch.setattr(companies_module, "SWEEP_SECONDS", 0.0)
    companies = _companies(1)
    idle, busy = companies.memory("1"), companies.memory("2")
    idle.keep("/voucherseries/F", {"financialyear": 2}, {"VoucherSeries": {"Code": "F"}})
    ran_out = Lease(company_key("1"), "me", ttl=30, deadline=time.monotonic() - 1)
    held = Lease(company_key("2"), "me", ttl=30, deadline=time.monotonic() + 30)
    old_ledger, ledger = companies.ledger("1", ran_out), companies.ledger("2", held)
    time.sleep(0.1)
    busy.keep("/voucherseries/F", {"financialyear": 2}, {"VoucherSeries": {"Code": "F"}})
    assert companies.memory("2") is busy  # kept a moment ago
    assert companies.memory("1") is not idle  # a new, empty one
    assert companies.memory("1").recall("/voucherseries/F", {"financialyear": 2}) is None
    assert companies.ledger("2", held) is ledger
    assert companies.ledger("1", ran_out) is not old_ledger
