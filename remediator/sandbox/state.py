"""The sandbox's state file: a documented JSON format, validated at load with the file, the
JSON path inside it and what is wrong. Its JSON Schema is ``docs/sandbox-state.schema.json``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from remediator.errors import UsageError
from remediator.sandbox.bas import SEEDS

Licence = Literal["bookkeeping", "api"]
LICENCES: tuple[Licence, ...] = ("bookkeeping", "api")


def _all_licences() -> list[Licence]:
    return list(LICENCES)


SCOPES = (
    "bookkeeping",
    "companyinformation",
    "settings",
    "profile",
    "connectfile",
    "inbox",
    "archive",
)


class SandboxStateError(UsageError):
    """A state file the sandbox cannot load: names the file, the place in it and the problem."""


class StateModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OAuthClient(StateModel):
    client_id: str
    client_secret: str
    service_accounts: bool = True


class User(StateModel):
    id: str
    name: str
    email: str = ""
    sys_admin: bool = False
    may_book: bool = True


class FinancialYear(StateModel):
    id: int = Field(ge=1)
    from_date: date
    to_date: date
    account_chart_type: str = "BAS 2026"
    accounting_method: Literal["ACCRUAL", "CASH"] = "ACCRUAL"


class Series(StateModel):
    code: str = Field(min_length=1, max_length=10)
    description: str = ""
    manual: bool = True
    next_number: int = Field(default=1, ge=1)


class Account(StateModel):
    number: int = Field(ge=1000, le=9999)
    description: str = Field(min_length=1)
    active: bool = True
    sru: int | None = None
    vat_code: str | None = None


class Chart(StateModel):
    """One year's chart: a seed (``bas-restaurant``) adjusted, plus explicit accounts."""

    seed: Literal["bas-restaurant"] | None = None
    inactive: list[int] = Field(default_factory=list)
    missing: list[int] = Field(default_factory=list)
    accounts: list[Account] = Field(default_factory=list)

    def expand(self) -> dict[int, Account]:
        found = {
            n: Account(number=n, description=d) for n, d in SEEDS.get(self.seed or "", {}).items()
        }
        found |= {a.number: a for a in self.accounts}
        for number in self.missing:
            found.pop(number, None)
        for number in self.inactive:
            if number in found:
                found[number] = found[number].model_copy(update={"active": False})
        return dict(sorted(found.items()))


class Tenant(StateModel):
    tenant_id: str
    company: dict[str, Any] = Field(default_factory=dict)
    licences: list[Licence] = Field(default_factory=_all_licences)
    users: list[User]
    financial_years: list[FinancialYear]
    series: dict[str, list[Series]] = Field(default_factory=dict)  # financial-year id -> series
    charts: dict[str, Chart] = Field(default_factory=dict)  # financial-year id -> chart
    locked_until: date | None = None
    locked_by: str = "Redovisningskonsult"

    @model_validator(mode="after")
    def _years_known(self) -> Tenant:
        ids = {str(y.id) for y in self.financial_years}
        for key in (*self.series, *self.charts):
            if key not in ids:
                raise ValueError(f"financial year id {key} is not among financial_years")
        return self


class Grant(StateModel):
    """A consent: named, with its current refresh token."""

    name: str
    tenant_id: str
    user_id: str
    client_id: str
    scopes: list[str] = Field(
        default_factory=lambda: ["bookkeeping", "companyinformation", "settings", "profile"]
    )
    refresh_token: str
    revoked: bool = False


class Faults(StateModel):
    latency: float = Field(default=0.0, ge=0)
    error_rate: dict[str, float] = Field(default_factory=dict)  # path prefix -> share of 5xx
    storm_429: bool = False
    burst_503_seconds: float = Field(default=0.0, ge=0)
    drop_rate: dict[str, float] = Field(default_factory=dict)  # path prefix -> share dropped
    timeout_after_write: int = Field(default=0, ge=0)  # next N voucher POSTs stored, never answered


class Consent(StateModel):
    """Who consents when a person opens /oauth-v1/auth in the sandbox."""

    tenant_id: str
    user_id: str


class SandboxState(StateModel):
    today: date | None = None
    clients: list[OAuthClient]
    tenants: list[Tenant]
    grants: list[Grant] = Field(default_factory=list)
    consent: Consent | None = None
    faults: Faults = Field(default_factory=Faults)
    examples: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> SandboxState:
        tenants = {t.tenant_id: t for t in self.tenants}
        clients = {c.client_id for c in self.clients}
        for grant in self.grants:
            tenant = tenants.get(grant.tenant_id)
            if tenant is None:
                raise ValueError(f"grant {grant.name!r}: unknown tenant {grant.tenant_id!r}")
            if grant.user_id not in {u.id for u in tenant.users}:
                raise ValueError(f"grant {grant.name!r}: unknown user {grant.user_id!r}")
            if grant.client_id not in clients:
                raise ValueError(f"grant {grant.name!r}: unknown client {grant.client_id!r}")
        return self


def _path(loc: tuple[Any, ...]) -> str:
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_state(text: str, source: str) -> SandboxState:
    try:
        data = json.loads(text)
    except ValueError as err:
        raise SandboxStateError(f"{source}: not JSON ({err})") from None
    try:
        return SandboxState.model_validate(data)
    except ValidationError as err:
        problems = [f"{source}: {_path(e['loc'])}: {e['msg']}" for e in err.errors()]
        raise SandboxStateError("\n".join(problems)) from None


def load_state(path: Path) -> SandboxState:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SandboxStateError(f"{path}: cannot read ({err.strerror})") from None
    return parse_state(text, str(path))


SCENARIOS = Path(__file__).parent / "scenarios"


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.json"))


def load_scenario(name: str) -> SandboxState:
    path = SCENARIOS / f"{name}.json"
    if not path.is_file():
        raise SandboxStateError(f"unknown scenario {name!r}; known: {', '.join(scenario_names())}")
    return load_state(path)


def json_schema() -> dict[str, Any]:
    schema = SandboxState.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
