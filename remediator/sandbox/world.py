"""The sandbox's live world: companies, grants, tokens, the rate limit, and the rules Fortnox
applies, independent of HTTP. ``app.py`` maps requests onto it."""

from __future__ import annotations

import base64
import json
import secrets
import time
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from remediator.sandbox.codes import Refusal
from remediator.sandbox.state import (
    DEFAULT_SCOPES,
    Account,
    CostCentre,
    Faults,
    FinancialYear,
    Grant,
    SandboxState,
    Scope,
    Series,
    Tenant,
)

ACCESS_LIFETIME = 3600
CODE_LIFETIME = 600
DAY = 86_400


class Refused(Exception):
    """Fortnox refuses: the app answers with ErrorInformation."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@dataclass
class Token:
    grant: str | None  # None for a service-account token
    tenant_id: str
    user_id: str
    client_id: str
    scopes: list[Scope]
    expires_at: float


@dataclass(frozen=True)
class PendingCode:
    """An authorization code handed out by ``/oauth-v1/auth``, not yet exchanged."""

    tenant_id: str
    user_id: str
    client_id: str
    scopes: list[Scope]
    expires_at: float


@dataclass
class Company:
    """One tenant's books, per financial year."""

    tenant: Tenant
    years: list[FinancialYear] = field(default_factory=list)  # grows: years created ahead
    series: dict[int, dict[str, Series]] = field(default_factory=dict)
    accounts: dict[int, dict[int, Account]] = field(default_factory=dict)
    vouchers: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    cost_centres: dict[str, CostCentre] = field(default_factory=dict)  # one set per company

    @classmethod
    def from_tenant(cls, tenant: Tenant) -> Company:
        company = cls(tenant, years=[y.model_copy() for y in tenant.financial_years])
        company.cost_centres = {c.code: c for c in tenant.cost_centres}
        for year in tenant.financial_years:
            key = str(year.id)
            company.series[year.id] = {s.code: s for s in tenant.series.get(key, [])}
            chart = tenant.charts.get(key)
            company.accounts[year.id] = chart.expand() if chart else {}
            company.vouchers[year.id] = []
        return company

    def year_for(self, day: date) -> int | None:
        return next((y.id for y in self.years if y.from_date <= day <= y.to_date), None)

    def year(self, year_id: int) -> FinancialYear:
        return next(y for y in self.years if y.id == year_id)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class World:
    """Everything the sandbox knows; its clock can be moved forward for tests."""

    def __init__(self, state: SandboxState) -> None:
        self.load(state)

    def load(self, state: SandboxState) -> None:
        """Start over from ``state``: books, grants, tokens, faults, clock offset."""
        self.state = state
        self.offset = 0.0
        self.companies = {t.tenant_id: Company.from_tenant(t) for t in state.tenants}
        self.grants: dict[str, Grant] = {g.name: g.model_copy() for g in state.grants}
        self.used_refresh: dict[str, str] = {}  # used refresh token -> grant name
        self.refreshed_at: dict[str, float] = {g.name: self.now() for g in state.grants}
        self.tokens: dict[str, Token] = {}
        self.codes: dict[str, PendingCode] = {}
        self.arrivals: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.faults = state.faults.model_copy(deep=True)
        self.burst_until = self.now() + self.faults.burst_503_seconds

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults; a 503 burst starts now."""
        self.faults = faults
        self.burst_until = self.now() + faults.burst_503_seconds

    def in_burst(self) -> bool:
        return self.now() < self.burst_until

    # -- time ------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.offset

    def today(self) -> date:
        """The state's ``today`` moved on by whole days of clock advance, else the real date."""
        if self.state.today is not None:
            return self.state.today + timedelta(days=int(self.offset // DAY))
        return date.fromtimestamp(self.now())  # noqa: DTZ012 - local date

    def refresh_expired(self, grant: Grant) -> bool:
        """A refresh token dies ``refresh_token_days`` after it was issued: unused that long,
        the connection is gone (Fortnox: 45 days)."""
        issued = self.refreshed_at.get(grant.name, self.now())
        return self.now() - issued > self.state.refresh_token_days * DAY

    # -- OAuth -----------------------------------------------------------------------
    def client_ok(self, client_id: str, secret: str) -> bool:
        return any(
            c.client_id == client_id and secrets.compare_digest(c.client_secret, secret)
            for c in self.state.clients
        )

    def new_code(self, client_id: str, scopes: list[Scope]) -> str | None:
        """A consent code for the state's ``consent`` user; ``None`` when there is none."""
        consent = self.state.consent
        if consent is None:
            return None
        code = secrets.token_urlsafe(16)
        self.codes[code] = PendingCode(
            consent.tenant_id,
            consent.user_id,
            client_id,
            scopes or list(DEFAULT_SCOPES),
            self.now() + CODE_LIFETIME,
        )
        return code

    def exchange_code(self, code: str, client_id: str) -> dict[str, Any]:
        """A code is single use and lives 10 minutes; the grant gets the consented scopes."""
        found = self.codes.pop(code, None)
        if found is None or found.expires_at < self.now() or found.client_id != client_id:
            raise InvalidGrant
        name = f"grant-{secrets.token_hex(4)}"
        self.grants[name] = Grant(
            name=name,
            tenant_id=found.tenant_id,
            user_id=found.user_id,
            client_id=client_id,
            scopes=found.scopes,
            refresh_token=secrets.token_urlsafe(24),
        )
        self.refreshed_at[name] = self.now()
        return self._issue(self.grants[name], rotate=False)

    def refresh(self, refresh_token: str, client_id: str) -> dict[str, Any]:
        reused = self.used_refresh.get(refresh_token)
        if reused is not None:  # reuse detection: the whole grant dies
            self.revoke(reused)
            raise InvalidGrant
        grant = next((g for g in self.grants.values() if g.refresh_token == refresh_token), None)
        if grant is None or grant.revoked or grant.client_id != client_id:
            raise InvalidGrant
        if self.refresh_expired(grant):
            raise InvalidGrant
        if self.faults.refresh_without_refresh_token:
            self.faults.refresh_without_refresh_token -= 1
            answer = self._issue(grant, rotate=False)
            del answer["refresh_token"]
            return answer
        return self._issue(grant, rotate=True)

    def client_credentials(self, tenant_id: str, client_id: str) -> dict[str, Any]:
        company = self.companies.get(tenant_id)
        client = next(c for c in self.state.clients if c.client_id == client_id)
        if company is None or not client.service_accounts:
            raise InvalidGrant
        admin = next((u for u in company.tenant.users if u.sys_admin), company.tenant.users[0])
        scopes = list(DEFAULT_SCOPES)
        token = self._access(None, tenant_id, admin.id, client_id, scopes)
        return {
            "access_token": token,
            "scope": " ".join(scopes),
            "expires_in": ACCESS_LIFETIME,
            "token_type": "bearer",
        }

    def revoke(self, name: str) -> bool:
        grant = self.grants.get(name)
        if grant is None:
            return False
        grant.revoked = True
        return True

    def revoke_token(self, refresh_token: str) -> bool:
        grant = next((g for g in self.grants.values() if g.refresh_token == refresh_token), None)
        return self.revoke(grant.name) if grant else False

    def _issue(self, grant: Grant, *, rotate: bool) -> dict[str, Any]:
        if rotate:
            self.used_refresh[grant.refresh_token] = grant.name
            grant.refresh_token = secrets.token_urlsafe(24)
            self.refreshed_at[grant.name] = self.now()
        access = self._access(
            grant.name, grant.tenant_id, grant.user_id, grant.client_id, grant.scopes
        )
        return {
            "access_token": access,
            "refresh_token": grant.refresh_token,
            "scope": " ".join(grant.scopes),
            "expires_in": ACCESS_LIFETIME,
            "token_type": "bearer",
        }

    def _access(
        self, grant: str | None, tenant_id: str, user_id: str, client_id: str, scopes: list[Scope]
    ) -> str:
        now = self.now()
        claims = {
            "tenantId": int(tenant_id) if tenant_id.isdigit() else tenant_id,
            "userId": user_id,
            "clientId": client_id,
            "scopes": scopes,
            "iat": int(now),
            "exp": int(now + ACCESS_LIFETIME),
            "jti": secrets.token_hex(8),
        }
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.sandbox"
        self.tokens[token] = Token(
            grant, tenant_id, user_id, client_id, scopes, now + ACCESS_LIFETIME
        )
        return token

    def authenticate(self, token: str) -> Token | None:
        found = self.tokens.get(token)
        if found is None or found.expires_at <= self.now():
            return None
        if found.grant is not None and self.grants[found.grant].revoked:
            return None
        return found

    # -- rate limit ------------------------------------------------------------------
    def admit(self, client_id: str, tenant_id: str) -> bool:
        """Fortnox's window: 25 requests per sliding 5 s per client and tenant (the state's
        ``rate_limit``; none when it is null). A refused request does not count."""
        limit = self.state.rate_limit
        if limit is None:
            return True
        seen = self.arrivals[(client_id, tenant_id)]
        now = self.now()
        del seen[: bisect_left(seen, now - limit.window_seconds)]
        if len(seen) >= limit.requests:
            return False
        seen.append(now)
        return True


class InvalidGrant(Exception):
    """The token endpoint answers invalid_grant."""
