"""What one company's session remembers of Fortnox: reads an apply may reuse for a short while.

Within a company's turn (and this process's next turns on it, for ``ttl`` seconds) the answers
that do not change unless someone changes them are read once: the financial year covering a
date, the year's voucher series and the year's accounts (the chart's pages and single
accounts). A write through our own client updates what is remembered (the answer to a series
or account write is the new state); any refused or unconfirmed write forgets everything, and so
does the engine when a run that used the memory ends blocked (it then runs again on fresh
reads). Never remembered: the vouchers (the duplicate search before each POST is always made),
``/me``, locked periods and cost centres. The availability check is answered by the last time
Fortnox answered us for the company, when that was a moment ago (``answered_within``).

A dry run's client recalls nothing: a plan reads what it reports. A plan made under the
company's turn (the service plans a run, then applies it) keeps what it read, as an apply
does, so the apply that follows does not read it all again. Each recalled answer comes with
its age: answers of a moment ago are as good as reads made now (``Recalled``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any, Generic, NamedTuple, TypeVar

from remediator.fortnox._models import FinancialYear

T = TypeVar("T")

REMEMBERED = ("/voucherseries", "/accounts")
Key = tuple[str, tuple[tuple[str, str], ...]]


def _key(path: str, params: dict[str, Any]) -> Key:
    return path, tuple(sorted((name, str(value)) for name, value in params.items()))


def remembered(path: str) -> bool:
    """Whether answers of GET ``path`` may be remembered."""
    return path.startswith(REMEMBERED)


class Recalled(NamedTuple, Generic[T]):
    """A remembered answer and how many seconds ago Fortnox gave it."""

    answer: T
    age: float


class Memory:
    """One company's remembered answers, each for ``ttl`` seconds after it was read."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self._clock = ttl, clock
        self._answers: dict[Key, tuple[float, Any]] = {}
        self._years: list[tuple[float, FinancialYear]] = []
        self._answered_at: float | None = None
        self._made = clock()

    def __repr__(self) -> str:
        return f"Memory(ttl={self.ttl}, answers={len(self._answers)}, years={len(self._years)})"

    # -- answers ----------------------------------------------------------------------
    def recall(self, path: str, params: dict[str, Any]) -> Recalled[Any] | None:
        """The remembered answer (a JSON object, or the ``NotFound`` it raised) with its age,
        or ``None``."""
        found = self._answers.get(_key(path, params))
        if found is None:
            return None
        age = self._clock() - found[0]
        if age > self.ttl:
            del self._answers[_key(path, params)]
            return None
        return Recalled(found[1], age)

    def keep(self, path: str, params: dict[str, Any], answer: Any) -> None:
        now = self._clock()
        expired = [key for key, (at, _) in self._answers.items() if now - at > self.ttl]
        for key in expired:  # what is kept stays small: nothing outlives its ttl for long
            del self._answers[key]
        self._answers[_key(path, params)] = (now, answer)

    def wrote(self, method: str, path: str, params: dict[str, Any], answer: Any) -> None:
        """A write through our own client succeeded: remember its answer as the new state."""
        if not isinstance(answer, dict):
            self.forget()
        elif path.startswith("/voucherseries"):
            self._wrote_series(params, answer)
        elif path.startswith("/accounts"):
            self._wrote_account(method, params, answer)

    def _wrote_series(self, params: dict[str, Any], answer: dict[str, Any]) -> None:
        self._drop_lists("/voucherseries", params)
        code = (answer.get("VoucherSeries") or {}).get("Code")
        if code:
            self.keep(f"/voucherseries/{code}", params, answer)

    def _wrote_account(self, method: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        account = answer.get("Account") or {}
        number = account.get("Number")
        if number is None:
            self.forget()
            return
        self.keep(f"/accounts/{number}", params, answer)
        if method == "POST":  # a new account: the chart's pages change
            self._drop_lists("/accounts", params)
            return
        for key, (_, page) in self._answers.items():
            if key[0] == "/accounts" and _same_year(key, params) and isinstance(page, dict):
                for item in page.get("Accounts") or []:
                    if item.get("Number") == number:
                        item.update({k: v for k, v in account.items() if k in item})

    def _drop_lists(self, path: str, params: dict[str, Any]) -> None:
        for key in [k for k in self._answers if k[0] == path and _same_year(k, params)]:
            del self._answers[key]

    # -- availability -----------------------------------------------------------------
    def answered(self) -> None:
        """Fortnox just answered a request of ours for this company (a success, not recalled)."""
        self._answered_at = self._clock()

    def answered_within(self, seconds: float) -> float | None:
        """How long ago Fortnox last answered us for this company, if within ``seconds``."""
        if self._answered_at is None:
            return None
        ago = self._clock() - self._answered_at
        return ago if ago <= seconds else None

    # -- financial years --------------------------------------------------------------
    def year_for(self, day: date) -> Recalled[FinancialYear] | None:
        """A remembered financial year covering ``day``."""
        now = self._clock()
        self._years = [(at, year) for at, year in self._years if now - at <= self.ttl]
        found = ((at, year) for at, year in self._years if year.covers(day))
        return next((Recalled(year, now - at) for at, year in found), None)

    def keep_year(self, year: FinancialYear) -> None:
        self._years.append((self._clock(), year))

    def idle(self) -> bool:
        """Nothing it keeps serves any more: it was made, and every answer, year and the last
        time Fortnox answered were kept, longer than the ttl ago (it may be let go)."""
        now = self._clock()
        kept = [self._made, *(at for at, _ in self._answers.values())]
        kept += [at for at, _ in self._years]
        if self._answered_at is not None:
            kept.append(self._answered_at)
        return all(now - at > self.ttl for at in kept)

    def forget(self) -> None:
        """Read everything again from now on."""
        self._answers.clear()
        self._years.clear()


def _same_year(key: Key, params: dict[str, Any]) -> bool:
    year = str(params.get("financialyear"))
    return dict(key[1]).get("financialyear") == year
