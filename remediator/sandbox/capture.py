"""Bring a restaurant's Fortnox home: read a company's bookkeeping setup and write it as a
sandbox state file, so support can reproduce a problem locally and try the fix on the copy.

Only reads (the client is opened read-only, so a write would be refused below this module):
the financial years, each year's voucher series and chart of accounts, the locked period and
the company's name. No vouchers, no users, no addresses or organisation number: the only
thing about the company in the file is its name (and Fortnox's database number, the tenant id).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from remediator.errors import UsageError
from remediator.fortnox import Account as FortnoxAccount
from remediator.fortnox import FinancialYear as FortnoxYear
from remediator.fortnox import FortnoxClient, VoucherSeries
from remediator.sandbox.state import (
    Account,
    Chart,
    CompanyInfo,
    Consent,
    FinancialYear,
    Grant,
    OAuthClient,
    SandboxState,
    Series,
    Tenant,
    User,
)

CLIENT_ID, CLIENT_SECRET = "remediator-demo", "demo-secret"
GRANT = "captured"
SUPPORT_USER = User(id="support", name="Support", sys_admin=True)


@dataclass(frozen=True)
class Books:
    """What the capture read from one Fortnox company."""

    company_name: str
    tenant_id: str
    years: list[FortnoxYear]
    series: dict[int, list[VoucherSeries]]
    accounts: dict[int, list[FortnoxAccount]]
    locked_until: date | None


async def read_books(client: FortnoxClient, tenant_id: str | None = None) -> Books:
    """Every read of the capture, GETs only; ``tenant_id`` when Fortnox does not say it."""
    company = await client.company_information()
    years = sorted(await client.financial_years(), key=lambda year: year.id)
    series = {year.id: await client.voucher_series_list(year.id) for year in years}
    accounts = {year.id: await client.accounts(year.id) for year in years}
    locked = await client.locked_period()
    database = str(company.database_number) if company.database_number else tenant_id
    if not database or not database.isdigit():
        raise UsageError("Fortnox did not say the company's database number (its tenant id)")
    return Books(
        company_name=company.company_name or "Fortnox company",
        tenant_id=database,
        years=years,
        series=series,
        accounts=accounts,
        locked_until=locked.end_date,
    )


def _year(year: FortnoxYear) -> FinancialYear:
    fields = {"id": year.id, "from_date": year.from_date, "to_date": year.to_date}
    if year.account_chart_type:
        fields["account_chart_type"] = year.account_chart_type
    if year.accounting_method:
        fields["accounting_method"] = year.accounting_method
    return FinancialYear.model_validate(fields)


def _series(series: VoucherSeries) -> Series:
    return Series(
        code=series.code,
        description=series.description or "",
        manual=series.manual is not False,
        next_number=max(series.next_voucher_number or 1, 1),
    )


def _account(account: FortnoxAccount) -> Account:
    return Account(
        number=account.number,
        description=account.description,
        active=account.active is not False,
        sru=account.sru,
        vat_code=account.vat_code,
    )


def to_state(books: Books, *, today: date) -> SandboxState:
    """A sandbox state holding ``books``: one tenant, a placeholder user who consents, and a
    grant named ``captured`` for the sandbox's own client."""
    tenant = Tenant(
        tenant_id=books.tenant_id,
        company=CompanyInfo(CompanyName=books.company_name),
        users=[SUPPORT_USER],
        financial_years=[_year(year) for year in books.years],
        series={str(y): [_series(s) for s in found] for y, found in books.series.items()},
        charts={
            str(y): Chart(accounts=[_account(a) for a in found])
            for y, found in books.accounts.items()
        },
        locked_until=books.locked_until,
    )
    return SandboxState(
        today=today,
        clients=[OAuthClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)],
        tenants=[tenant],
        grants=[
            Grant(
                name=GRANT,
                tenant_id=books.tenant_id,
                user_id=SUPPORT_USER.id,
                client_id=CLIENT_ID,
                refresh_token=f"rt-captured-{secrets.token_hex(8)}",
            )
        ],
        consent=Consent(tenant_id=books.tenant_id, user_id=SUPPORT_USER.id),
    )
