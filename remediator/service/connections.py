"""``/v1/connections``: create, update and show connections; hand out access tokens.

Never a token in what is shown. ``access-token`` is the one exception, by design: the
Backoffice's exporter asks here instead of refreshing the single-use refresh token itself.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from remediator.errors import ConnectionExists, UnknownConnectionError, UsageError
from remediator.service.checked import ANSWERS, CheckedRoute
from remediator.service.schemas import (
    AccessToken,
    ConnectionIn,
    ConnectionOut,
    Problem,
    merged_policy,
)
from remediator.service.security import require_token, service
from remediator.service.wiring import Service
from remediator.storage import Connection, ConnectionKind
from remediator.storage.audit import Actor, AuditAction, Via
from remediator.storage.connections import ConnectionChanges

router = APIRouter(
    prefix="/v1/connections",
    tags=["connections"],
    dependencies=[Depends(require_token)],
    route_class=CheckedRoute,
    responses=ANSWERS,
)
Running = Annotated[Service, Depends(service)]
# The api token is one shared key: a policy change through it is recorded as the token's.
API_TOKEN = Actor("api token", Via.API)


def _show(running: Service, connection: Connection) -> ConnectionOut:
    return ConnectionOut.of(
        connection,
        running.settings.policy,
        running.runtime.engine.reconnect_url(connection.id),
    )


def _new(running: Service, connection_id: str, body: ConnectionIn) -> Connection:
    if body.label is None:
        raise UsageError("label is required to create a connection")
    kind = body.kind or ConnectionKind.REFRESH_TOKEN
    if kind is ConnectionKind.SERVICE_ACCOUNT and not body.tenant_id:
        raise UsageError("a service-account connection needs tenant_id")
    return Connection(
        id=connection_id,
        label=body.label,
        client_id=running.settings.client_id,
        kind=kind,
        tenant_id=body.tenant_id,
    )


def _changes(
    running: Service, current: Connection, body: ConnectionIn, *, created: bool
) -> ConnectionChanges:
    """What the request changes on ``current`` (the connection as stored, or as it will be
    created); refused here, before anything is written, when it may not."""
    if body.kind is not None and body.kind is not current.kind:
        raise UsageError("the kind of a connection cannot change; remove and add it again")
    if body.refresh_token is not None and current.kind is ConnectionKind.SERVICE_ACCOUNT:
        raise UsageError("a service-account connection has no refresh token to import")
    policy = None
    if body.policy is not None:
        policy = merged_policy(current.policy or running.settings.policy, body.policy)
    tenant = body.tenant_id if body.tenant_id != current.tenant_id else None
    return ConnectionChanges(
        label=None if created else body.label,
        tenant_id=None if created else tenant,
        restaurant=(body.restaurant.id, body.restaurant.name) if body.restaurant else None,
        policy=policy,
        refresh_token=body.refresh_token,
    )


def _put(running: Service, connection_id: str, body: ConnectionIn) -> tuple[Connection, bool]:
    """Create or update in one transaction: a request that is refused changes nothing. A
    connection another request creates meanwhile is updated, as it would be had it come
    first."""
    try:
        return _put_once(running, connection_id, body)
    except ConnectionExists:
        return _put_once(running, connection_id, body)


def _put_once(running: Service, connection_id: str, body: ConnectionIn) -> tuple[Connection, bool]:
    store = running.runtime.store
    try:
        current, new = store.get(connection_id), None
    except UnknownConnectionError:
        current = new = _new(running, connection_id, body)
    changes = _changes(running, current, body, created=new is not None)
    stored = store.put(connection_id, changes, new=new)
    if changes.policy is not None:
        before = current.policy or running.settings.policy
        if changed := before.changes_to(changes.policy):
            running.audit.record(
                API_TOKEN,
                AuditAction.POLICY,
                connection_id=connection_id,
                detail="; ".join(changed),
            )
    return stored, new is not None


@router.put(
    "/{connection_id}",
    response_model=ConnectionOut,
    responses={
        201: {"model": ConnectionOut},
        400: {"model": Problem, "description": "Not a valid change (a new one needs a label)."},
        409: {"model": Problem, "description": "A refresh token is imported once: it has one."},
    },
)
async def put_connection(
    connection_id: Annotated[str, Path(min_length=1, max_length=100)],
    body: ConnectionIn,
    running: Running,
    response: Response,
) -> ConnectionOut:
    """Create (201) or update (200) a connection; a refresh token can be imported once."""
    connection, created = await asyncio.to_thread(_put, running, connection_id, body)
    response.status_code = 201 if created else 200
    return _show(running, connection)


@router.get("/{connection_id}", response_model=ConnectionOut, responses={404: {"model": Problem}})
async def get_connection(connection_id: str, running: Running) -> ConnectionOut:
    """Status, tenant, scopes, policy and last refresh; never tokens."""
    return _show(running, await asyncio.to_thread(running.runtime.store.get, connection_id))


@router.post(
    "/{connection_id}/access-token",
    response_model=AccessToken,
    responses={
        404: {"model": Problem},
        409: {"model": Problem, "description": "The connection must be authorized again."},
        502: {"model": Problem, "description": "Fortnox could not be reached."},
    },
)
async def access_token(connection_id: str, running: Running) -> AccessToken:
    """A valid access token from the remediator's token manager (refreshed if need be)."""
    if not await asyncio.to_thread(running.runtime.store.exists, connection_id):
        raise UnknownConnectionError(connection_id)
    tokens = running.runtime.connector.tokens(connection_id)
    token = await tokens.access_token()
    connection = await tokens.connection()
    return AccessToken(
        access_token=token.get_secret_value(),
        expires_at=Connection.timestamp(connection.access_expires_at),
    )
