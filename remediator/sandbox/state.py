"""The sandbox's state file: a documented JSON format, validated at load with the file, the
JSON path inside it and what is wrong. Its JSON Schema is ``docs/sandbox-state.schema.json``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from remediator.errors import UsageError
from remediator.sandbox.bas import SEEDS
from remediator.sandbox.consistency import inconsistencies

Licence = Literal["bookkeeping", "api"]
LICENCES: tuple[Licence, ...] = ("bookkeeping", "api")


def _all_licences() -> list[Licence]:
    return list(LICENCES)


Scope = Literal[
    "bookkeeping",
    "companyinformation",
    "settings",
    "profile",
    "connectfile",
    "inbox",
    "archive",
    "costcenter",
]
DEFAULT_SCOPES: tuple[Scope, ...] = ("bookkeeping", "companyinformation", "settings", "profile")


def _default_scopes() -> list[Scope]:
    return list(DEFAULT_SCOPES)


class SandboxStateError(UsageError):
    """A state file the sandbox cannot load: names the file, the place in it and the problem."""


class StateModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OAuthClient(StateModel):
    """An integration registered with Fortnox: what the token endpoint's Basic auth checks."""

    client_id: str
    client_secret: str
    service_accounts: bool = Field(
        default=True, description="May use client_credentials (a service account)."
    )


class User(StateModel):
    """A Fortnox user of the company; grants and consents act as one of them."""

    id: str = Field(description="Answered as MeInformation.Id and the token's userId.")
    name: str
    email: str = ""
    sys_admin: bool = Field(default=False, description="Service-account tokens act as a sysadmin.")
    may_book: bool = Field(
        default=True,
        description="False: posting a voucher is refused with 2002455 (no right to book).",
    )


class FinancialYear(StateModel):
    id: int = Field(ge=1, description="Fortnox's small Id (1, 2, ...), used as financialyear.")
    from_date: date
    to_date: date
    account_chart_type: str = "BAS 2026"
    accounting_method: Literal["ACCRUAL", "CASH"] = "ACCRUAL"


class Series(StateModel):
    """A voucher series in one financial year."""

    code: str = Field(min_length=1, max_length=10)
    description: str = ""
    manual: bool = Field(
        default=True, description="False: vouchers through the API are refused (2001940)."
    )
    next_number: int = Field(default=1, ge=1, description="The number the next voucher gets.")


class Account(StateModel):
    """An account of one year's chart."""

    number: int = Field(ge=1000, le=9999)
    description: str = Field(min_length=1)
    active: bool = True
    sru: int | None = None
    vat_code: str | None = None
    cost_centre: Literal["ALLOWED", "MANDATORY", "NOTALLOWED"] = Field(
        default="ALLOWED", description="Answered as CostCenterSettings."
    )


class CostCentre(StateModel):
    """A cost centre of the company (Fortnox keeps them for the company, not per year)."""

    code: str = Field(min_length=1, max_length=6)
    description: str = ""
    active: bool = Field(
        default=True, description="False: a voucher row that names it is refused (2000947)."
    )


class Chart(StateModel):
    """One year's chart: a seed (``bas-restaurant``) adjusted, plus explicit accounts."""

    seed: Literal["bas-restaurant"] | None = Field(
        default=None,
        description="bas-restaurant: the BAS accounts a restaurant's Z-report and everyday "
        "bookkeeping use, all active.",
    )
    inactive: list[int] = Field(
        default_factory=list, description="Account numbers of the chart to make inactive."
    )
    missing: list[int] = Field(
        default_factory=list, description="Account numbers to leave out of the seed."
    )
    cost_centre_required: list[int] = Field(
        default_factory=list,
        description="Account numbers whose CostCenterSettings is MANDATORY: a voucher row on "
        "one without a cost centre is refused (2000946).",
    )
    accounts: list[Account] = Field(
        default_factory=list, description="Accounts added to (or replacing those of) the seed."
    )

    def expand(self) -> dict[int, Account]:
        """The chart's accounts by number: seed, then explicit accounts, less the missing,
        with the inactive ones made inactive."""
        found = {
            n: Account(number=n, description=d) for n, d in SEEDS.get(self.seed or "", {}).items()
        }
        found |= {a.number: a for a in self.accounts}
        for number in self.missing:
            found.pop(number, None)
        for number in self.inactive:
            if number in found:
                found[number] = found[number].model_copy(update={"active": False})
        for number in self.cost_centre_required:
            if number in found:
                found[number] = found[number].model_copy(update={"cost_centre": "MANDATORY"})
        return dict(sorted(found.items()))


class CompanyInfo(StateModel):
    """What ``GET /3/companyinformation`` answers, in Fortnox's own field names (its
    DatabaseNumber is the tenant id)."""

    company_name: str = Field("Sandbox AB", alias="CompanyName")
    organization_number: str = Field("556000-0000", alias="OrganizationNumber")
    address: str | None = Field(None, alias="Address")
    zip_code: str | None = Field(None, alias="ZipCode")
    city: str | None = Field(None, alias="City")
    country_code: str | None = Field(None, alias="CountryCode")
    visit_address: str | None = Field(None, alias="VisitAddress")
    visit_zip_code: str | None = Field(None, alias="VisitZipCode")
    visit_city: str | None = Field(None, alias="VisitCity")
    visit_country_code: str | None = Field(None, alias="VisitCountryCode")


class Tenant(StateModel):
    """One Fortnox company and its books."""

    tenant_id: str = Field(
        pattern=r"^\d+$", description="The company's DatabaseNumber, the tokens' tenantId."
    )
    company: CompanyInfo = Field(default_factory=CompanyInfo)
    licences: list[Licence] = Field(
        default_factory=_all_licences,
        description="Without api every call is refused (2001103); without bookkeeping every "
        "bookkeeping call (2001101).",
    )
    users: list[User]
    financial_years: list[FinancialYear]
    series: dict[str, list[Series]] = Field(
        default_factory=dict, description="Financial-year id -> that year's voucher series."
    )
    charts: dict[str, Chart] = Field(
        default_factory=dict, description="Financial-year id -> that year's chart of accounts."
    )
    cost_centres: list[CostCentre] = Field(
        default_factory=list, description="The company's cost centres (/3/costcenters)."
    )
    locked_until: date | None = Field(
        default=None, description="Vouchers dated on or before it are refused (2000401)."
    )
    locked_by: str = Field(
        default="Redovisningskonsult", description="Who locked it, named in the refusal."
    )


class Grant(StateModel):
    """A consent: named, with its current refresh token."""

    name: str = Field(description="How admin endpoints and examples refer to the grant.")
    tenant_id: str
    user_id: str
    client_id: str
    scopes: list[Scope] = Field(default_factory=_default_scopes)
    refresh_token: str = Field(description="Its current refresh token: single use, rotated.")
    revoked: bool = Field(
        default=False, description="True: Fortnox invalidated it (invalid_grant, 401)."
    )


Share = Annotated[float, Field(ge=0, le=1)]


class VoucherRefusal(StateModel):
    """A refusal the sandbox gives every voucher POST (fault ``voucher_refusal``)."""

    status: int = Field(default=400, ge=400, le=599)
    code: int
    message: str


class Faults(StateModel):
    """Injected failures under ``/3/``, checked in this order after authentication."""

    latency: float = Field(
        default=0.0,
        ge=0,
        description="Seconds added to every answer; setting the faults again lets the "
        "requests waiting it out go at once.",
    )
    drop_rate: dict[str, Share] = Field(
        default_factory=dict,
        description="Path prefix (e.g. /3/vouchers) -> share of requests whose connection "
        "is dropped. The longest matching prefix wins.",
    )
    storm_429: bool = Field(default=False, description="Every request answers 429.")
    burst_503_seconds: float = Field(
        default=0.0,
        ge=0,
        description="Answer 503 with an HTML page for this many seconds from load (or set).",
    )
    error_rate: dict[str, Share] = Field(
        default_factory=dict,
        description="Path prefix -> share of requests answered 500 with code 1000003. The "
        "longest matching prefix wins.",
    )
    timeout_after_write: int = Field(
        default=0,
        ge=0,
        description="The next N accepted voucher POSTs are stored but never answered.",
    )
    ignore_voucher_filters: bool = Field(
        default=False,
        description="GET /3/vouchers ignores voucherseries, fromdate and todate and lists "
        "every voucher of the financial year (Fortnox honours one resource-specific filter "
        "per call).",
    )
    voucher_refusal: VoucherRefusal | None = Field(
        default=None,
        description="Every voucher POST is refused with this status, code and message (an "
        "error of Fortnox's that no playbook knows, for training and tests).",
    )
    refresh_without_refresh_token: int = Field(
        default=0,
        ge=0,
        description="The token endpoint: the next N refresh_token grants answer 200 with an "
        "access token but no refresh_token; the presented refresh token stays valid.",
    )


class RateLimit(StateModel):
    """Fortnox's window: ``requests`` per sliding ``window_seconds`` per client and tenant."""

    requests: int = Field(default=25, ge=1)
    window_seconds: float = Field(default=5.0, gt=0)


class Consent(StateModel):
    """Who consents when a person opens /oauth-v1/auth in the sandbox."""

    tenant_id: str
    user_id: str


class SandboxState(StateModel):
    """A sandbox state file (docs/sandbox.md)."""

    today: date | None = Field(
        default=None,
        description="The date the sandbox takes as today (the default financial year); "
        "the real date when left out.",
    )
    refresh_token_days: int = Field(
        default=45,
        ge=1,
        description="A refresh token unused this many days after it was issued answers "
        "invalid_grant (Fortnox: 45). Each refresh issues a new one.",
    )
    clients: list[OAuthClient] = Field(min_length=1)
    tenants: list[Tenant]
    grants: list[Grant] = Field(default_factory=list)
    consent: Consent | None = None
    faults: Faults = Field(default_factory=Faults)
    rate_limit: RateLimit | None = Field(
        default_factory=RateLimit, description="null: no rate limit (benchmarks)."
    )
    request_log_size: int = Field(
        default=10_000, ge=0, description="The request log keeps the newest N requests."
    )
    examples: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form data for the demo and tests, e.g. z_report: the voucher "
        "that fails in this scenario.",
    )


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
        state = SandboxState.model_validate(data)
    except ValidationError as err:
        problems = [f"{source}: {_path(e['loc'])}: {e['msg']}" for e in err.errors()]
        raise SandboxStateError("\n".join(problems)) from None
    wrong = inconsistencies(state)
    if wrong:
        raise SandboxStateError("\n".join(f"{source}: {_path(loc)}: {msg}" for loc, msg in wrong))
    return state


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
