"""Leases: acquire, contend, expire, renew, release and lose, on each dialect."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from remediator.errors import LeaseLost, RemediatorError
from remediator.storage import Database
from remediator.storage.db import leases
from remediator.storage.leases import (
    Census,
    Lease,
    Leases,
    LeaseStore,
    Spent,
    Taken,
    held,
    new_owner,
    this_process,
)
from tests.storage.conftest import wait_expired

WAIT_SECONDS = 30  # how long a test waits for what a lease's background work does, at most


@pytest.fixture
def store(database: Database) -> LeaseStore:
    return LeaseStore(database)


async def until(check: Callable[[], bool], what: str) -> None:
    """Wait (polling) until ``check()``; fail after ``WAIT_SECONDS``."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {WAIT_SECONDS} s"
        await asyncio.sleep(0.01)


async def renewed(lease: Lease) -> None:
    """Wait until the holder's next renewal has landed (its deadline moved on)."""
    before = lease.deadline
    await until(lambda: lease.deadline != before or lease.lost is not None, "a renewal")
    assert lease.lost is None


async def lost(lease: Lease) -> None:
    """Wait until the holder's renewals have found the lease lost."""
    await until(lambda: lease.lost is not None, "the lease found lost")


def test_a_free_key_is_taken_and_then_refused_to_others(store: LeaseStore) -> None:
    assert store.acquire("tenant:1", "a", 30)
    assert not store.acquire("tenant:1", "b", 30)
    assert store.acquire("tenant:2", "b", 30)  # another company is another lease
    row = store.holder("tenant:1")
    assert row is not None
    assert row.owner == "a"
    assert row.expires_at - row.acquired_at == pytest.approx(30, abs=0.5)


def test_a_released_lease_keeps_what_its_holder_spent_for_the_next(store: LeaseStore) -> None:
    """A released lease is held by nobody and free, and tells its next taker what the last
    holder spent of the company's rate budget, aged by the database's clock meanwhile."""
    assert store.take("tenant:1", "a", 30) == Taken(None)  # a new key: nothing spent
    store.release("tenant:1", "a", Spent("host-a:1", (0.0, 1.5)))
    assert store.holder("tenant:1") is None
    time.sleep(0.2)
    taken = store.take("tenant:1", "b", 30)
    assert taken is not None
    assert taken.spent is not None
    assert taken.spent.process == "host-a:1"
    young, old = taken.spent.ages
    assert 0.19 <= young < 5
    assert old - young == pytest.approx(1.5, abs=0.002)
    assert not store.acquire("tenant:1", "c", 30)  # b holds it now
    store.release("tenant:1", "b")  # spent nothing it could tell
    assert store.take("tenant:1", "c", 30) == Taken(None)


class Budget:
    """A process's rate budget as ``Leases`` sees it: what it spent, and what it counted."""

    def __init__(self, process: str, ages: tuple[float, ...] = ()) -> None:
        self.process, self.ages = process, ages
        self.counted: list[Spent] = []

    def spent(self, key: str) -> Spent | None:
        return Spent(self.process, self.ages) if self.ages else None

    def count(self, key: str, spent: Spent) -> None:
        self.counted.append(spent)


async def test_the_next_holder_counts_what_another_process_spent(store: LeaseStore) -> None:
    """What a holder spent goes with the lease to the next holder, who counts it unless it was
    this same process's (its own window has it already)."""
    elsewhere = Budget("elsewhere:1", (0.0, 0.1))
    here = Budget(this_process(), (0.3,))
    for budget in (elsewhere, here):
        async with Leases(store, 30, budget=budget).hold("tenant:9"):
            pass
    async with Leases(store, 30, budget=here).hold("tenant:9"):
        pass
    assert [spent.process for spent in here.counted] == ["elsewhere:1"]
    assert [len(spent.ages) for spent in here.counted] == [2]
    assert elsewhere.counted == []


def test_the_holder_taking_it_again_extends_it_and_keeps_acquired_at(store: LeaseStore) -> None:
    assert store.acquire("k", "a", 5)
    first = store.holder("k")
    time.sleep(0.05)
    assert store.acquire("k", "a", 60)
    again = store.holder("k")
    assert first is not None
    assert again is not None
    assert again.acquired_at == first.acquired_at
    assert again.expires_at > first.expires_at + 50


def test_an_expired_lease_goes_to_the_next_and_its_old_holder_cannot_renew(
    store: LeaseStore,
) -> None:
    assert store.acquire("k", "a", 1)
    assert not store.acquire("k", "b", 30)
    wait_expired(store, "k")
    assert store.acquire("k", "b", 30)
    assert not store.renew("k", "a", 30)
    row = store.holder("k")
    assert row is not None
    assert row.owner == "b"


def test_an_expired_lease_nobody_took_is_lost_all_the_same(store: LeaseStore) -> None:
    assert store.acquire("k", "a", 0.1)
    time.sleep(0.2)
    assert not store.renew("k", "a", 30)


def test_renew_extends_only_the_owners_lease(store: LeaseStore) -> None:
    assert store.acquire("k", "a", 5)
    before = store.holder("k")
    assert not store.renew("k", "b", 60)
    assert store.renew("k", "a", 60)
    after = store.holder("k")
    assert before is not None
    assert after is not None
    assert after.expires_at > before.expires_at + 50
    assert not store.renew("missing", "a", 60)


def test_release_frees_the_key_and_ignores_other_owners(store: LeaseStore) -> None:
    assert store.acquire("k", "a", 30)
    store.release("k", "b")
    assert not store.acquire("k", "b", 30)
    store.release("k", "a")
    assert store.holder("k") is None
    assert store.acquire("k", "b", 30)


def test_expiry_is_on_the_databases_clock(store: LeaseStore) -> None:
    assert store.now() == pytest.approx(time.time(), abs=5)
    assert store.acquire("k", "a", 10)
    row = store.holder("k")
    assert row is not None
    assert row.expires_at == pytest.approx(store.now() + 10, abs=1)


def test_a_census_counts_live_instances_and_companies_held_by_other_processes(
    store: LeaseStore,
) -> None:
    me, other = "host_a:1", "hostXa:1"  # a LIKE would read "_" as any character
    prefixes = ("tenant:", "connection:")
    assert store.acquire("instance:host_a:1", f"{me}:p", 30)
    assert store.acquire("instance:hostXa:1", f"{other}:p", 30)
    assert store.acquire("instance:gone:3", "gone:3:p", 0.1)
    assert store.acquire("tenant:1", f"{me}:x", 30)  # this process's: not counted
    assert store.acquire("tenant:2", f"{other}:x", 30)
    assert store.acquire("connection:c3", f"{other}:y", 30)
    assert store.acquire("tenant:4", f"{other}:z", 30)
    store.release("tenant:4", f"{other}:z")  # released: not held
    assert store.acquire("tenant:5", "gone:3:x", 0.1)  # expired below: not held
    assert store.acquire("job:keepalive", f"{other}:j", 30)  # not a company
    wait_expired(store, "tenant:5")
    assert store.census("instance:", prefixes, me) == Census(2, 2)
    assert store.census("instance:", prefixes, other) == Census(2, 1)
    store.forget("instance:hostXa:1", "someone else")  # only its owner's row goes
    store.forget("instance:hostXa:1", f"{other}:p")
    assert store.holder("instance:hostXa:1") is None
    assert store.census("instance:", prefixes, me) == Census(1, 2)


def test_owners_are_unique_per_holder() -> None:
    owners = {new_owner() for _ in range(100)}
    assert len(owners) == 100


def test_of_many_racing_for_a_free_key_exactly_one_wins(database: Database) -> None:
    """Each thread has its own engine, like a process of its own."""
    winners: list[str] = []
    start = threading.Barrier(6)

    def race(owner: str) -> None:
        own = Database(database.url)
        try:
            start.wait()
            if LeaseStore(own).acquire("tenant:race", owner, 30):
                winners.append(owner)
        finally:
            own.dispose()

    threads = [threading.Thread(target=race, args=(f"o{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


# -- holding ---------------------------------------------------------------------------------


async def test_hold_takes_turns_across_holders_and_releases(store: LeaseStore) -> None:
    """Two ``Leases`` are two processes: the second waits for the first's release."""
    first, second = Leases(store, ttl=5), Leases(store, ttl=5)
    inside: list[str] = []
    events: list[str] = []

    async def work(leases: Leases, name: str) -> None:
        async with leases.hold("tenant:1") as lease:
            inside.append(name)
            assert len(inside) == 1, "two holders at once"
            events.append(f"{name} in")
            lease.ensure_held()
            await asyncio.sleep(0.2)
            events.append(f"{name} out")
            inside.remove(name)

    await asyncio.gather(work(first, "a"), work(second, "b"))
    assert events in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
    assert store.holder("tenant:1") is None


async def test_hold_is_reentrant_in_one_task(store: LeaseStore) -> None:
    leases = Leases(store, ttl=5)
    async with leases.hold("k") as outer:
        assert held("k") is outer
        async with leases.hold("k") as inner:
            assert inner is outer
        row = store.holder("k")
        assert row is not None
        assert row.owner == outer.owner  # the inner exit did not release it
    assert held("k") is None
    assert store.holder("k") is None


async def test_a_dead_holders_lease_is_taken_after_it_expires(store: LeaseStore) -> None:
    started = time.monotonic()  # before the dead holder's expiry is set: it is later than this
    assert store.acquire("k", "dead-process", 0.5)
    async with Leases(store, ttl=5).hold("k") as lease:
        waited = time.monotonic() - started
        assert lease.owner != "dead-process"
    assert waited > 0.45  # not before it expired (how soon after is the benchmarks' business)


async def test_the_lease_is_renewed_while_the_body_runs(store: LeaseStore) -> None:
    """Past its first expiry on the database's clock the lease is still the holder's. Checked
    as a renewal lands, not at a time chosen by a sleep: the holder stops writing when less
    than a third of the ttl is left since it sent its last renewal, so a check at a moment of
    its own choosing would race the renewal's statement on a loaded machine."""
    async with Leases(store, ttl=1.5).hold("k") as lease:
        first = store.holder("k")
        assert first is not None
        await until(lambda: store.now() > first.expires_at, "its first expiry")  # past one ttl
        await renewed(lease)
        lease.ensure_held()
        row = store.holder("k")
        assert row is not None
        assert row.owner == lease.owner
        assert row.expires_at > first.expires_at
        assert not store.acquire("k", "other", 5)


async def test_a_lease_taken_over_is_lost_and_refuses_writes(
    store: LeaseStore, database: Database
) -> None:
    async with Leases(store, ttl=0.6).hold("k") as lease:
        with database.engine.begin() as conn:  # another holder, as after an expiry
            conn.execute(leases.update().where(leases.c.key == "k").values(owner="thief"))
        await lost(lease)  # the next renewal finds out
        assert lease.lost == "another holder took it, or it expired"
        with pytest.raises(LeaseLost) as caught:
            lease.ensure_held()
        assert isinstance(caught.value, RemediatorError)
        assert "k" in str(caught.value)
    row = store.holder("k")
    assert row is not None
    assert row.owner == "thief"  # leaving did not release another's lease


async def test_a_lease_that_cannot_be_renewed_refuses_writes_before_it_expires(
    store: LeaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(key: str, owner: str, ttl: float) -> bool:
        raise OperationalError("UPDATE leases", {}, Exception("database is locked"))

    async with Leases(store, ttl=1.5).hold("k") as lease:
        monkeypatch.setattr(store, "renew", broken)
        lease.ensure_held()
        await until(lambda: lease.remaining() < lease.ttl / 3, "a third of the ttl left")
        with pytest.raises(LeaseLost):
            lease.ensure_held()
        row = store.holder("k")
        assert row is not None
        assert row.expires_at > store.now()  # the database's expiry is still ahead


# -- handing over inside one process ------------------------------------------------------


class Counted:
    """A ``LeaseStore`` that counts the acquire and release statements it is sent."""

    def __init__(self, store: LeaseStore) -> None:
        self.store, self.acquired, self.released = store, 0, 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        take, release = self.store.take, self.store.release

        def counted_take(key: str, owner: str, ttl: float) -> Taken | None:
            self.acquired += 1
            return take(key, owner, ttl)

        def counted_release(key: str, owner: str, spent: Spent | None = None) -> None:
            self.released += 1
            release(key, owner, spent)

        monkeypatch.setattr(self.store, "take", counted_take)
        monkeypatch.setattr(self.store, "release", counted_release)


async def _burst(leases: Leases, key: str, holders: int) -> tuple[list[str], list[str]]:
    """``holders`` tasks of one process taking turns on ``key``: the owners they held it as,
    and the order they were inside."""
    owners: list[str] = []
    inside: list[str] = []

    async def work(name: str) -> None:
        async with leases.hold(key) as lease:
            assert not inside or inside[-1].endswith("out"), "two holders at once"
            inside.append(f"{name} in")
            lease.ensure_held()
            owners.append(lease.owner)
            await asyncio.sleep(0.01)
            inside.append(f"{name} out")

    await asyncio.gather(*(work(f"h{i}") for i in range(holders)))
    return owners, inside


async def test_a_waiter_in_the_process_is_handed_the_lease_without_a_database_round(
    store: LeaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = Counted(store)
    counted.install(monkeypatch)
    owners, inside = await _burst(Leases(store, ttl=5), "tenant:1", 5)
    assert len(inside) == 10  # one at a time, every one of them
    assert len(set(owners)) == 1  # one database lease served the burst
    assert (counted.acquired, counted.released) == (1, 1)
    assert store.holder("tenant:1") is None  # the last one released it


async def test_a_lease_is_handed_over_only_within_handover_seconds(
    store: LeaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = Counted(store)
    counted.install(monkeypatch)
    owners, _ = await _burst(Leases(store, ttl=5, handover_seconds=0), "tenant:1", 3)
    assert len(set(owners)) == 3
    assert (counted.acquired, counted.released) == (3, 3)
    assert store.holder("tenant:1") is None


async def test_a_lost_lease_is_not_handed_over(store: LeaseStore, database: Database) -> None:
    # 3 s: the waiter's own lease must outlive a loaded machine's pauses (with 0.6 s, CI once
    # saw it run out between its taking and its first check)
    process = Leases(store, ttl=3.0)
    second: list[str] = []

    async def waiter() -> None:
        async with process.hold("k") as lease:
            lease.ensure_held()
            second.append(lease.owner)

    async with process.hold("k") as first:
        task = asyncio.create_task(waiter(), context=contextvars.Context())  # not a subtask
        await asyncio.sleep(0)
        with database.engine.begin() as conn:  # another process took it, as after an expiry
            conn.execute(leases.update().where(leases.c.key == "k").values(owner="x"))
        await lost(first)  # the next renewal finds out
        assert first.lost is not None
        with database.engine.begin() as conn:  # and let it go again
            conn.execute(leases.delete().where(leases.c.key == "k"))
    await task
    assert len(second) == 1
    assert second[0] != first.owner  # taken again from the database
    assert store.holder("k") is None


async def test_a_lease_kept_for_a_waiter_that_left_is_released(store: LeaseStore) -> None:
    leases = Leases(store, ttl=5)
    entered = asyncio.Event()

    async def waiter() -> None:
        entered.set()
        async with leases.hold("k"):
            raise AssertionError("cancelled before its turn")

    async with leases.hold("k"):
        task = asyncio.create_task(waiter(), context=contextvars.Context())  # not a subtask
        await entered.wait()
        await asyncio.sleep(0)  # the waiter waits on the lock now
    assert store.holder("k") is not None  # kept for the waiter
    task.cancel()  # handed the lease, it leaves before it ran
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(lambda: store.holder("k") is None, "the kept lease released")


async def test_attempt_does_not_wait_for_a_lease_someone_else_holds(store: LeaseStore) -> None:
    first, second = Leases(store, ttl=5), Leases(store, ttl=5)
    taken, done = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with first.attempt("job:x") as mine:
            assert mine is not None
            async with first.attempt("job:x") as again:  # this task holds it already
                assert again is mine
            taken.set()
            await done.wait()

    async def others() -> list[Lease | None]:
        await taken.wait()
        async with second.attempt("job:x") as theirs:  # another process: refused at once
            seen = [theirs]
        async with first.attempt("job:x") as local:  # another task of this process
            seen.append(local)
        done.set()
        return seen

    _, seen = await asyncio.gather(holder(), others())
    assert seen == [None, None]
    assert store.holder("job:x") is None  # released at the end
    async with second.attempt("job:x") as now_free:
        assert now_free is not None


async def test_attempt_takes_a_dead_holders_lease_once_it_expired(store: LeaseStore) -> None:
    assert store.acquire("job:x", "dead-process", 1)
    async with Leases(store, ttl=5).attempt("job:x") as early:
        assert early is None
    wait_expired(store, "job:x")
    async with Leases(store, ttl=5).attempt("job:x") as late:
        assert late is not None
        assert late.owner != "dead-process"


def test_the_leases_is_in_the_schema(database: Database) -> None:
    assert "leases" in sa.inspect(database.engine).get_table_names()
