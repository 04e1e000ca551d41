"""What the API answers, as pydantic models (they make the OpenAPI page)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from remediator.owner import owner_warning
from remediator.policy import Change, Policy, Rule
from remediator.report import Report, Text
from remediator.storage import Connection, ConnectionKind, ReconnectCause
from remediator.storage.queue import QueuedRun
from remediator.storage.runs import RunState
from remediator.timestamps import Timestamp, from_epoch

_FINAL = frozenset({RunState.DONE, RunState.REJECTED})


_time = from_epoch


class Accepted(BaseModel):
    run_id: str
    event_id: str
    state: RunState
    duplicate: bool = Field(description="The event was received before; this is its run.")
    url: str


class Callback(BaseModel):
    state: Literal["none", "pending", "delivered", "failed"]
    attempts: int = 0
    next_attempt_at: Timestamp | None = None
    last_error: str | None = None


class RunSummary(BaseModel):
    id: str
    event_id: str
    connection_id: str
    state: RunState
    state_reason: str | None
    mode: str
    origin: Literal["service", "scheduled"] = Field(
        description="service: a failure the service received; scheduled: a check ahead's "
        "finding or fix (docs/ahead.md), whose export has not happened yet."
    )
    kind: str | None
    outcome: str | None
    export_date: str | None
    attempts: int
    joined_to: str | None = Field(description="The run of the same kind this one joined.")
    approved_by: str | None
    approved_at: Timestamp | None
    received_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    callback: Callback

    @classmethod
    def of(cls, run: QueuedRun) -> RunSummary:
        return cls(
            id=run.id,
            event_id=run.event_id,
            connection_id=run.connection_id,
            state=run.state,
            state_reason=run.state_reason,
            mode=run.mode,
            origin="scheduled" if run.origin == "scheduled" else "service",
            kind=run.kind,
            outcome=run.outcome,
            export_date=run.export_date,
            attempts=run.attempts or 0,
            joined_to=run.joined_to,
            approved_by=run.approved_by,
            approved_at=_time(run.approved_at),
            received_at=datetime.fromtimestamp(run.created_at, tz=UTC),
            started_at=_time(run.started_at),
            finished_at=_time(run.finished_at) if run.state in _FINAL else None,
            callback=Callback(
                state=run.callback_state or "none",
                attempts=run.callback_attempts or 0,
                next_attempt_at=_time(run.callback_next_at),
                last_error=run.callback_error,
            ),
        )


class RunOut(RunSummary):
    report: Report | None = Field(
        description="The report (a plan while awaiting review); none before the first pass."
    )

    @classmethod
    def of(cls, run: QueuedRun) -> RunOut:
        report = Report.model_validate(json.loads(run.report)) if run.report else None
        return cls(**RunSummary.of(run).model_dump(), report=report)


class RunsPage(BaseModel):
    items: list[RunSummary]
    total: int
    limit: int
    offset: int


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approved_by: str = Field(min_length=1, max_length=200, description="Who reviewed the plan.")


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rejected_by: str = Field(min_length=1, max_length=200, description="Who reviewed the plan.")
    reason: str = Field(min_length=1, max_length=1000, description="Why it is rejected.")


class Problem(BaseModel):
    detail: str
    problems: list[str] = Field(default_factory=list)


class Stale(Problem):
    """A 409: not awaiting review (a problem), or Fortnox changed since (its differences)."""

    differences: list[str] = Field(default_factory=list)


class RestaurantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)


class ConnectionIn(BaseModel):
    """Create or update a connection. Omitted fields are left as they are."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, min_length=1, max_length=200)
    restaurant: RestaurantIn | None = None
    policy: dict[Change, Rule] | None = Field(
        default=None,
        description="Rules per kind of change, over the deployment's default policy.",
    )
    kind: ConnectionKind | None = Field(default=None, description="Only when creating.")
    tenant_id: str | None = Field(default=None, max_length=50)
    refresh_token: SecretStr | None = Field(
        default=None,
        min_length=1,  # an empty one made every later refresh raise inside authlib (a 500)
        max_length=4096,
        description="Import an existing refresh token, once; from then on only the "
        "remediator refreshes it.",
    )


class OwnerOut(BaseModel):
    """Who connected (Fortnox's /3/me at consent)."""

    service_account: bool
    name: str | None = None
    email: str | None = None
    sys_admin: bool | None = None
    checked_at: Timestamp | None = None


def _owner(connection: Connection) -> OwnerOut | None:
    if connection.kind is ConnectionKind.SERVICE_ACCOUNT:
        return OwnerOut(service_account=True)
    if connection.owner is None:
        return None
    return OwnerOut(
        service_account=False,
        name=connection.owner.name,
        email=connection.owner.email,
        sys_admin=connection.owner.sys_admin,
        checked_at=_time(connection.owner.checked_at),
    )


class ConnectionOut(BaseModel):
    id: str
    label: str
    kind: ConnectionKind
    status: str
    status_reason: str | None
    status_cause: ReconnectCause | None = Field(
        default=None,
        description="Why it needs reconnecting: invalidated_by_fortnox, lost_by_remediator "
        "(a refresh never stored its rotated token), no_refresh_token, service_account_refused.",
    )
    tenant_id: str | None
    scopes: list[str]
    restaurant: RestaurantIn | None
    policy: Policy
    policy_is_default: bool
    has_refresh_token: bool
    last_refresh_at: Timestamp | None
    access_expires_at: Timestamp | None
    owner: OwnerOut | None = Field(
        default=None, description="Who connected; null when not learnt at consent."
    )
    owner_warning: Text | None = Field(
        default=None,
        description="Set when the connection rests on a user who is not a system "
        "administrator (it stops working when that person leaves or loses rights).",
    )
    reconnect_url: str = Field(
        description="A fresh signed link the restaurant opens to reconnect, without the api "
        "token; it expires after reconnect_link_seconds."
    )

    @classmethod
    def of(cls, connection: Connection, default: Policy, reconnect_url: str) -> ConnectionOut:
        restaurant = (
            RestaurantIn(id=connection.restaurant_id, name=connection.restaurant_name)
            if connection.restaurant_id and connection.restaurant_name
            else None
        )
        return cls(
            id=connection.id,
            label=connection.label,
            kind=connection.kind,
            status=connection.status.value,
            status_reason=connection.status_reason,
            status_cause=connection.status_cause,
            tenant_id=connection.tenant_id,
            scopes=list(connection.scopes),
            restaurant=restaurant,
            policy=connection.policy or default,
            policy_is_default=connection.policy is None,
            has_refresh_token=connection.refresh_token is not None,
            last_refresh_at=_time(connection.last_refresh_at),
            access_expires_at=_time(connection.access_expires_at),
            owner=_owner(connection),
            owner_warning=owner_warning(connection),
            reconnect_url=reconnect_url,
        )


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a token type, not a secret
    expires_at: Timestamp | None


class Authorize(BaseModel):
    authorize_url: str
    expires_at: Timestamp


def merged_policy(base: Policy, rules: dict[Change, Rule]) -> Policy:
    data: dict[str, Any] = base.model_dump() | {
        change.value: rule for change, rule in rules.items()
    }
    return Policy.model_validate(data)
