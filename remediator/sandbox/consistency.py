"""Checks a state file's parts against each other (what a field-by-field schema cannot):
unknown references, duplicates, years that overlap. Each problem names its JSON path."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from remediator.sandbox.state import Chart, SandboxState, Tenant

Location = tuple[str | int, ...]
Problem = tuple[Location, str]


def inconsistencies(state: SandboxState) -> list[Problem]:
    """Every problem found, in file order; empty when the state is consistent."""
    return [
        *_duplicates(("clients",), "client_id", (c.client_id for c in state.clients)),
        *_duplicates(("tenants",), "tenant_id", (t.tenant_id for t in state.tenants)),
        *(p for i, t in enumerate(state.tenants) for p in _tenant(("tenants", i), t)),
        *_duplicates(("grants",), "name", (g.name for g in state.grants)),
        *_duplicates(("grants",), "refresh_token", (g.refresh_token for g in state.grants)),
        *_grants(state),
        *_consent(state),
    ]


def _duplicates(where: Location, key: str, values: Iterable[str | int]) -> Iterator[Problem]:
    listed = list(values)
    counts = Counter(listed)
    for index, value in enumerate(listed):
        if counts[value] > 1:
            yield (*where, index, key), f"{value!r} appears more than once"


def _tenant(where: Location, tenant: Tenant) -> Iterator[Problem]:
    if not tenant.users:
        yield (*where, "users"), "a tenant needs at least one user"
    yield from _duplicates((*where, "users"), "id", (u.id for u in tenant.users))
    yield from _years(where, tenant)
    ids = {str(y.id) for y in tenant.financial_years}
    for key, series in tenant.series.items():
        if key not in ids:
            yield (*where, "series", key), f"financial year id {key} is not among financial_years"
        yield from _duplicates((*where, "series", key), "code", (s.code for s in series))
    for key, chart in tenant.charts.items():
        if key not in ids:
            yield (*where, "charts", key), f"financial year id {key} is not among financial_years"
        yield from _chart((*where, "charts", key), chart)


def _years(where: Location, tenant: Tenant) -> Iterator[Problem]:
    years = tenant.financial_years
    yield from _duplicates((*where, "financial_years"), "id", (y.id for y in years))
    for index, year in enumerate(years):
        if year.from_date > year.to_date:
            yield (*where, "financial_years", index), "from_date is after to_date"
        for other in years[:index]:
            if year.from_date <= other.to_date and other.from_date <= year.to_date:
                yield (
                    (*where, "financial_years", index),
                    f"overlaps financial year id {other.id}",
                )


def _chart(where: Location, chart: Chart) -> Iterator[Problem]:
    present = chart.expand()
    for index, number in enumerate(chart.inactive):
        if number not in present:
            yield (*where, "inactive", index), f"account {number} is not in this chart"


def _grants(state: SandboxState) -> Iterator[Problem]:
    tenants = {t.tenant_id: t for t in state.tenants}
    clients = {c.client_id for c in state.clients}
    for index, grant in enumerate(state.grants):
        tenant = tenants.get(grant.tenant_id)
        if tenant is None:
            yield ("grants", index, "tenant_id"), f"unknown tenant {grant.tenant_id!r}"
        elif grant.user_id not in {u.id for u in tenant.users}:
            yield ("grants", index, "user_id"), f"unknown user {grant.user_id!r} in that tenant"
        if grant.client_id not in clients:
            yield ("grants", index, "client_id"), f"unknown client {grant.client_id!r}"


def _consent(state: SandboxState) -> Iterator[Problem]:
    consent = state.consent
    if consent is None:
        return
    tenant = next((t for t in state.tenants if t.tenant_id == consent.tenant_id), None)
    if tenant is None:
        yield ("consent", "tenant_id"), f"unknown tenant {consent.tenant_id!r}"
    elif consent.user_id not in {u.id for u in tenant.users}:
        yield ("consent", "user_id"), f"unknown user {consent.user_id!r} in that tenant"
