"""A run's audit as it is made: what it stores before the run's end, and when."""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest

from remediator.fortnox import RequestRecord
from remediator.trail import Audit


def request(
    method: str, path: str = "/3/x", *, kind: Literal["api", "token"] = "api"
) -> RequestRecord:
    return RequestRecord(kind=kind, method=method, path=path, status=200, duration=0.01)


class Store:
    """A keep that records what it was given, and can be held or made to fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.error: Exception | None = None

    async def __call__(self, records: list[RequestRecord], first: int) -> None:
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        self.calls.append(([f"{r.method} {r.path}" for r in records], first))


async def test_reads_and_token_calls_wait_for_the_end_and_a_write_stores_all_so_far() -> None:
    store = Store()
    audit = Audit(keep=store)
    audit(request("GET", "/3/a"))
    audit(request("POST", "/oauth-v1/token", kind="token"))
    await asyncio.sleep(0)
    assert store.calls == []
    audit(request("PUT", "/3/b"))
    await audit.stored()
    assert store.calls == [(["GET /3/a", "POST /oauth-v1/token", "PUT /3/b"], 0)]
    audit(request("GET", "/3/c"))
    await audit.stored()
    assert (audit.kept, [r.path for r in audit.unkept()]) == (3, ["/3/c"])


async def test_writes_answered_during_a_store_are_stored_next_in_order_one_at_a_time() -> None:
    store = Store()
    store.gate.clear()
    audit = Audit(keep=store)
    audit(request("POST", "/3/one"))
    await asyncio.sleep(0)  # the first store is under way, held
    audit(request("GET", "/3/read"))
    audit(request("POST", "/3/two"))
    store.gate.set()
    await audit.stored()
    assert store.calls == [(["POST /3/one"], 0), (["GET /3/read", "POST /3/two"], 1)]
    assert audit.unkept() == []


async def test_a_store_that_fails_leaves_the_rest_to_the_run_s_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store()
    store.error = RuntimeError("the database is gone")
    audit = Audit(keep=store)
    audit(request("POST", "/3/one"))
    await audit.stored()
    store.error = None
    audit(request("POST", "/3/two"))  # no store is tried again: the end stores them all
    await audit.stored()
    assert store.calls == []
    assert (audit.kept, [r.path for r in audit.unkept()]) == (0, ["/3/one", "/3/two"])
    assert "could not be stored before its end: the database is gone" in caplog.text


def test_without_keep_nothing_is_stored_before_the_end() -> None:
    audit = Audit()
    audit(request("POST"))  # no event loop needed: nothing is scheduled
    assert (audit.kept, len(audit.unkept())) == (0, 1)
