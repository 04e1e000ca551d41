"""A company's session memory: what it answers, for how long, and what a write changes."""

from __future__ import annotations

from datetime import date
from typing import Any

from remediator.fortnox import FinancialYear, Memory
from remediator.fortnox._memory import Recalled

YEAR = {"financialyear": 2}
PAGE = {"financialyear": 2, "limit": 500, "page": 1}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _memory() -> tuple[Memory, Clock]:
    clock = Clock()
    return Memory(30.0, clock), clock


def _answer(recalled: Recalled[Any] | None) -> Any:
    assert recalled is not None
    return recalled.answer


def test_an_answer_older_than_the_ttl_is_read_again() -> None:
    memory, clock = _memory()
    answer = {"VoucherSeries": {"Code": "F", "Manual": True}}
    memory.keep("/voucherseries/F", YEAR, answer)
    clock.now = 30.0
    assert memory.recall("/voucherseries/F", YEAR) == (answer, 30.0)  # with its age
    assert memory.recall("/voucherseries/F", {"financialyear": 1}) is None  # another year
    clock.now = 30.5
    assert memory.recall("/voucherseries/F", YEAR) is None


def test_a_year_answers_every_day_it_covers_until_the_ttl() -> None:
    memory, clock = _memory()
    year = FinancialYear.model_validate({"Id": 2, "FromDate": "2026-01-01", "ToDate": "2026-12-31"})
    memory.keep_year(year)
    clock.now = 4.0
    assert memory.year_for(date(2026, 3, 9)) == (year, 4.0)
    assert memory.year_for(date(2027, 1, 1)) is None
    clock.now = 31.0
    assert memory.year_for(date(2026, 3, 9)) is None


def test_a_write_is_remembered_as_fortnox_answered_it() -> None:
    memory, _ = _memory()
    chart = {"Accounts": [{"Number": 3001, "Active": False}, {"Number": 1910, "Active": True}]}
    memory.keep("/accounts", PAGE, chart)
    answer = {"Account": {"Number": 3001, "Active": True, "Description": "Försäljning"}}
    memory.wrote("PUT", "/accounts/3001", YEAR, answer)
    assert _answer(memory.recall("/accounts", PAGE)) == {
        "Accounts": [{"Number": 3001, "Active": True}, {"Number": 1910, "Active": True}]
    }
    assert _answer(memory.recall("/accounts/3001", YEAR)) == answer
    memory.wrote("POST", "/accounts", YEAR, {"Account": {"Number": 3002, "Active": True}})
    assert memory.recall("/accounts", PAGE) is None  # a new account: the pages are read again
    series = {"VoucherSeries": {"Code": "F", "Manual": True}}
    memory.wrote("POST", "/voucherseries", YEAR, series)
    assert _answer(memory.recall("/voucherseries/F", YEAR)) == series


def test_forget_drops_everything() -> None:
    memory, _ = _memory()
    memory.keep("/voucherseries/F", YEAR, {"VoucherSeries": {"Code": "F"}})
    memory.keep_year(
        FinancialYear.model_validate({"Id": 2, "FromDate": "2026-01-01", "ToDate": "2026-12-31"})
    )
    memory.forget()
    assert memory.recall("/voucherseries/F", YEAR) is None
    assert memory.year_for(date(2026, 3, 9)) is None


def test_a_memory_is_idle_once_nothing_it_keeps_serves() -> None:
    memory, clock = _memory()
    assert not memory.idle()  # new: about to be used
    clock.now = 20.0
    memory.answered()
    clock.now = 40.0
    assert not memory.idle()  # answered 20 s ago
    memory.keep("/voucherseries/F", YEAR, {"VoucherSeries": {"Code": "F"}})
    clock.now = 60.0
    assert not memory.idle()
    clock.now = 70.5
    assert memory.idle()
