"""The Fortnox API client for one connection (one tenant), on a shared pooled HTTP client."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx

from remediator.fortnox._auth import FortnoxAuth, TokenSource
from remediator.fortnox._events import SAFE_METHODS, RequestHook, RequestRecord
from remediator.fortnox._exceptions import (
    FortnoxTransportError,
    NotFound,
    ReadOnlyViolation,
    ServerError,
    WriteOutcomeUnknown,
)
from remediator.fortnox._memory import Memory, Recalled, remembered
from remediator.fortnox._models import (
    Account,
    Chart,
    CompanyInformation,
    CostCenter,
    FinancialYear,
    LockedPeriod,
    Me,
    MetaInformation,
    Voucher,
    VoucherSeries,
)
from remediator.fortnox._ratelimit import SlidingWindowLimiter
from remediator.fortnox._responses import error_for, json_body, parse_error_body, unwrap
from remediator.fortnox._retry import IDEMPOTENT, RetryPolicy

PAGE_LIMIT = 500


@dataclass(frozen=True)
class Pool:
    """A shared pooled HTTP client with what every request through it carries, taken once
    (not per client: an apply opens a client per run)."""

    http: httpx.AsyncClient
    headers: tuple[tuple[str, str], ...]
    json_headers: tuple[tuple[str, str], ...]
    extensions: dict[str, Any]

    @classmethod
    def of(cls, http: httpx.AsyncClient) -> Pool:
        headers = tuple(http.headers.multi_items())
        json_headers = (*headers, ("Content-Type", "application/json"))
        return cls(http, headers, json_headers, {"timeout": http.timeout.as_dict()})


T = TypeVar("T")


class FortnoxClient:
    """Reads and writes one Fortnox company. Opened ``read_only`` it refuses every write;
    ``guard`` (when given) is called before every attempt of a write and may raise to stop it
    (the engine's check that it still holds the company's lease). ``memory`` (the company's,
    under its turn) answers the reads it remembers without asking Fortnox again
    (``remediator.fortnox._memory``); ``stalest_recall`` is the age in seconds of the oldest
    answer it gave (``None``: none). A read-only client answers nothing from memory (a plan
    reads what it reports) and has no ``memory``, but keeps what it read in the one it was
    given, for the apply that follows."""

    def __init__(
        self,
        *,
        pool: Pool,
        api_url: str,
        tokens: TokenSource,
        tenant: str,
        limiter: SlidingWindowLimiter,
        retry: RetryPolicy,
        hook: RequestHook,
        read_only: bool,
        guard: Callable[[], None] | None = None,
        memory: Memory | None = None,
    ) -> None:
        self.tenant, self.read_only = tenant, read_only
        self._guard = guard
        self.memory = None if read_only else memory  # what answers this client's reads
        self._keeping = memory  # what this client's reads and writes are kept in
        self.stalest_recall: float | None = None
        self._http, self._api_url = pool.http, api_url.rstrip("/")
        self._limiter, self._retry, self._hook = limiter, retry, hook
        # Functions of the limiter and the hook, not of this client: the auth it holds holding
        # it back would make each run's client a cycle for the garbage collector to find.
        pace = functools.partial(limiter.acquire, tenant)
        self._auth = FortnoxAuth(tokens, pace, functools.partial(_record, hook, tenant))
        self._pool = pool

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"FortnoxClient(tenant={self.tenant!r}, {mode})"

    # -- financial years ---------------------------------------------------------------
    async def financial_year_for(self, day: date) -> FinancialYear | None:
        """The financial year covering ``day``; ``None`` when there is none (not an error)."""
        if self.memory is not None and (known := self.memory.year_for(day)) is not None:
            return self._recalled(known)
        data = await self._get("/financialyears", {"date": day.isoformat()})
        years = [FinancialYear.model_validate(item) for item in unwrap(data, "FinancialYears")]
        year = next((year for year in years if year.covers(day)), years[0] if years else None)
        if self._keeping is not None and year is not None and year.covers(day):
            self._keeping.keep_year(year)
        return year

    async def financial_years(self) -> list[FinancialYear]:
        data = await self._get("/financialyears", {})
        return [FinancialYear.model_validate(item) for item in unwrap(data, "FinancialYears")]

    # -- voucher series ----------------------------------------------------------------
    async def voucher_series_list(self, year_id: int) -> list[VoucherSeries]:
        items = await self._all_pages(
            "/voucherseries", {"financialyear": year_id}, "VoucherSeriesCollection"
        )
        return [VoucherSeries.model_validate(item) for item in items]

    async def voucher_series(self, code: str, year_id: int) -> VoucherSeries | None:
        """Series ``code`` in that year; ``None`` when it does not exist there."""
        data = await self._get_or_none(f"/voucherseries/{code}", {"financialyear": year_id})
        return None if data is None else VoucherSeries.model_validate(unwrap(data, "VoucherSeries"))

    async def create_voucher_series(
        self, code: str, description: str, year_id: int, *, manual: bool = True
    ) -> VoucherSeries:
        body = {"VoucherSeries": {"Code": code, "Description": description, "Manual": manual}}
        data = await self._send("POST", "/voucherseries", {"financialyear": year_id}, body)
        return VoucherSeries.model_validate(unwrap(data, "VoucherSeries"))

    async def update_voucher_series(
        self,
        code: str,
        year_id: int,
        *,
        manual: bool | None = None,
        description: str | None = None,
    ) -> VoucherSeries:
        fields = _present({"Manual": manual, "Description": description})
        data = await self._send(
            "PUT", f"/voucherseries/{code}", {"financialyear": year_id}, {"VoucherSeries": fields}
        )
        return VoucherSeries.model_validate(unwrap(data, "VoucherSeries"))

    # -- accounts ----------------------------------------------------------------------
    async def accounts(self, year_id: int) -> list[Account]:
        """Every account of that year's chart, all pages."""
        items = await self._all_pages("/accounts", {"financialyear": year_id}, "Accounts")
        return [Account.model_validate(item) for item in items]

    async def chart(self, year_id: int) -> Chart:
        """That year's chart by number, all pages; an account is validated as it is looked up."""
        return Chart(await self._all_pages("/accounts", {"financialyear": year_id}, "Accounts"))

    async def account(self, number: int, year_id: int) -> Account | None:
        """Account ``number`` in that year; ``None`` when the chart has no such account."""
        data = await self._get_or_none(f"/accounts/{number}", {"financialyear": year_id})
        return None if data is None else Account.model_validate(unwrap(data, "Account"))

    async def create_account(
        self, number: int, description: str, year_id: int, *, active: bool = True
    ) -> Account:
        body = {"Account": {"Number": number, "Description": description, "Active": active}}
        data = await self._send("POST", "/accounts", {"financialyear": year_id}, body)
        return Account.model_validate(unwrap(data, "Account"))

    async def update_account(
        self,
        number: int,
        year_id: int,
        *,
        active: bool | None = None,
        description: str | None = None,
    ) -> Account:
        fields = _present({"Active": active, "Description": description})
        data = await self._send(
            "PUT", f"/accounts/{number}", {"financialyear": year_id}, {"Account": fields}
        )
        return Account.model_validate(unwrap(data, "Account"))

    # -- vouchers ----------------------------------------------------------------------
    async def vouchers(
        self, year_id: int, series: str, from_date: date, to_date: date
    ) -> list[Voucher]:
        """Vouchers of one series between two dates (inclusive), all pages, without rows."""
        params = {
            "financialyear": year_id,
            "voucherseries": series,
            "fromdate": from_date.isoformat(),
            "todate": to_date.isoformat(),
        }
        items = await self._all_pages("/vouchers", params, "Vouchers")
        return [Voucher.model_validate(item) for item in items]

    async def voucher(self, series: str, number: int, year_id: int) -> Voucher:
        data = await self._get(f"/vouchers/{series}/{number}", {"financialyear": year_id})
        return Voucher.model_validate(unwrap(data, "Voucher"))

    async def create_voucher(self, voucher: Voucher, year_id: int | None) -> Voucher:
        """Post a voucher into financial year ``year_id`` (``None``: the year Fortnox finds for
        its date). Never retried blind: a timeout raises ``WriteOutcomeUnknown``."""
        body = {"Voucher": voucher.new_voucher_payload()}
        params = {} if year_id is None else {"financialyear": year_id}
        data = await self._send("POST", "/vouchers", params, body)
        return Voucher.model_validate(unwrap(data, "Voucher"))

    # -- company -----------------------------------------------------------------------
    # -- cost centres (scope costcenter; one set per company) ---------------------------
    async def cost_center(self, code: str) -> CostCenter | None:
        """Cost centre ``code``; ``None`` when Fortnox has none by that code."""
        data = await self._get_or_none(f"/costcenters/{quote(code, safe='')}", {})
        return None if data is None else CostCenter.model_validate(unwrap(data, "CostCenter"))

    async def update_cost_center(self, code: str, *, active: bool) -> CostCenter:
        body = {"CostCenter": {"Active": active}}
        data = await self._send("PUT", f"/costcenters/{quote(code, safe='')}", {}, body)
        return CostCenter.model_validate(unwrap(data, "CostCenter"))

    async def company_information(self) -> CompanyInformation:
        data = await self._get("/companyinformation", {})
        return CompanyInformation.model_validate(unwrap(data, "CompanyInformation"))

    async def me(self) -> Me:
        data = await self._get("/me", {})
        return Me.model_validate(unwrap(data, "MeInformation", "Me"))

    async def locked_period(self) -> LockedPeriod:
        data = await self._get("/settings/lockedperiod", {})
        return LockedPeriod.model_validate(unwrap(data, "LockedPeriod"))

    # -- plumbing ----------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        memory = self._keeping if remembered(path) else None
        if memory is None:
            return await self._send("GET", path, params, None)
        known = memory.recall(path, params) if self.memory is not None else None
        if known is not None:
            if isinstance(answer := self._recalled(known), NotFound):
                raise answer
            return answer
        try:
            data = await self._send("GET", path, params, None)
        except NotFound as err:
            memory.keep(path, params, err)
            raise
        memory.keep(path, params, data)
        return data

    def _recalled(self, known: Recalled[T]) -> T:
        stalest = self.stalest_recall
        self.stalest_recall = known.age if stalest is None else max(stalest, known.age)
        return known.answer

    async def _get_or_none(self, path: str, params: dict[str, Any]) -> Any:
        try:
            return await self._get(path, params)
        except NotFound:
            return None

    async def _all_pages(self, path: str, params: dict[str, Any], key: str) -> list[Any]:
        items: list[Any] = []
        page = 1
        while True:
            data = await self._get(path, params | {"limit": PAGE_LIMIT, "page": page})
            items.extend(unwrap(data, key))
            meta = _meta(data)
            if meta is None or meta.current_page >= meta.total_pages:
                return items
            page = meta.current_page + 1

    async def _send(
        self, method: str, path: str, params: dict[str, Any], body: dict[str, Any] | None
    ) -> Any:
        if self.read_only and method not in SAFE_METHODS:
            raise ReadOnlyViolation(method, f"/3{path}")
        memory = self._keeping
        if memory is None:
            return await self._retried(method, path, params, body)
        if method in SAFE_METHODS:
            data = await self._retried(method, path, params, body)
            memory.answered()
            return data
        try:
            data = await self._retried(method, path, params, body)
        except Exception:
            memory.forget()  # refused or unconfirmed: what we remember may be wrong
            raise
        memory.wrote(method, path, params, data)
        memory.answered()
        return data

    async def _retried(
        self, method: str, path: str, params: dict[str, Any], body: dict[str, Any] | None
    ) -> Any:
        return await self._retry.run(method, lambda: self._send_once(method, path, params, body))

    async def _send_once(
        self, method: str, path: str, params: dict[str, Any], body: dict[str, Any] | None
    ) -> Any:
        if self._guard is not None and method not in SAFE_METHODS:
            self._guard()
        started = time.monotonic()
        try:
            response = await self._http.send(
                self._request(method, path, params, body), auth=self._auth
            )
        except httpx.TransportError as err:
            raise self._transport_error(err, method, path, time.monotonic() - started) from None
        _unbind(response)
        if not response.is_success:
            error = error_for(response, method, f"/3{path}")
            if method not in IDEMPOTENT and isinstance(error, ServerError):
                raise WriteOutcomeUnknown(method, f"/3{path}", f"HTTP {response.status_code}")
            raise error
        data = json_body(response)
        if not isinstance(data, dict):
            raise ServerError(
                status=response.status_code,
                method=method,
                path=f"/3{path}",
                message="the answer was not a JSON object",
                uid=response.headers.get("X-Uid"),
            )
        return data

    def _request(
        self, method: str, path: str, params: dict[str, Any], body: dict[str, Any] | None
    ) -> httpx.Request:
        """The request, built here rather than by ``AsyncClient.request``: the URL with its
        query parsed once per distinct one (cached), the client's headers taken once per
        client, no cookies or parameters to merge (the API needs neither)."""
        url = _url(self._api_url, path, urlencode(params) if params else "")
        if body is None:
            return httpx.Request(
                method, url, headers=self._pool.headers, extensions=self._pool.extensions
            )
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return httpx.Request(
            method,
            url,
            headers=self._pool.json_headers,
            content=content.encode(),
            extensions=self._pool.extensions,
        )

    def _transport_error(
        self, err: httpx.TransportError, method: str, path: str, duration: float
    ) -> Exception:
        never_sent = isinstance(err, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        self._hook(
            RequestRecord(
                kind="api",
                method=method,
                path=f"/3{path}",
                status=None,
                duration=duration,
                tenant=self.tenant,
                error=type(err).__name__,
            )
        )
        if method not in IDEMPOTENT and not never_sent:
            return WriteOutcomeUnknown(method, f"/3{path}", type(err).__name__)
        timed_out = isinstance(err, httpx.TimeoutException) and not never_sent
        return FortnoxTransportError(
            f"Fortnox could not be reached ({type(err).__name__})",
            method=method,
            path=f"/3{path}",
            timed_out=timed_out,
        )


def _unbind(response: httpx.Response) -> None:
    """Let a read response's stream go. httpx binds the two to each other (the stream notes on
    the response when it closes), a cycle that left every response to the garbage collector;
    once closed, a response answers from the content it read and never uses its stream."""
    if response.is_closed:
        response.stream = httpx.ByteStream(b"")


def _record(
    hook: RequestHook,
    tenant: str,
    request: httpx.Request,
    response: httpx.Response,
    duration: float,
) -> None:
    """Hand ``hook`` the record of one API request of ``tenant``."""
    code = None if response.is_success else parse_error_body(response).code
    hook(
        RequestRecord(
            kind="api",
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            duration=duration,
            tenant=tenant,
            code=code,
        )
    )


@functools.lru_cache(maxsize=4096)
def _url(api_url: str, path: str, query: str) -> httpx.URL:
    """The parsed URL of ``path`` with ``query`` (httpx parses a URL given as text on every
    request; a parsed one it takes as it is). URLs are immutable; the paths and queries of a
    run repeat across runs."""
    return httpx.URL(f"{api_url}{path}?{query}" if query else f"{api_url}{path}")


def _meta(data: Any) -> MetaInformation | None:
    try:
        return MetaInformation.model_validate(unwrap(data, "MetaInformation"))
    except ValueError:
        return None


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}
