"""``remediator connections``: register, inspect, authorize and remove Fortnox connections."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click
from pydantic import SecretStr
from rich.table import Table

from remediator.cli import remediate
from remediator.cli.output import echo_json, people_console
from remediator.errors import UsageError
from remediator.owner import learn_owner, owner_line, owner_warning
from remediator.runtime import open_connector, open_store
from remediator.settings import load_settings
from remediator.storage import Connection, ConnectionKind, ConnectionStatus
from remediator.storage.connections import Listed
from remediator.storage.crypto import UNDECRYPTABLE
from remediator.timestamps import iso_epoch, local


def describe(listed: Listed) -> dict[str, Any]:
    """What may be shown of a connection: everything but its tokens, and whether this
    process's key reads them."""
    connection = listed.connection
    return {
        "id": connection.id,
        "label": connection.label,
        "kind": connection.kind.value,
        "status": connection.status.value,
        "status_reason": connection.status_reason,
        "status_cause": connection.status_cause.value if connection.status_cause else None,
        "tenant_id": connection.tenant_id,
        "client_id": connection.client_id,
        "scopes": list(connection.scopes),
        "has_refresh_token": listed.has_refresh_token,
        "tokens_readable": listed.tokens_readable,
        "owner": _owner(connection),
        "owner_warning": warning.en if (warning := owner_warning(connection)) else None,
        "access_expires_at": iso_epoch(connection.access_expires_at),
        "last_refresh_at": iso_epoch(connection.last_refresh_at),
        "created_at": iso_epoch(connection.created_at),
        "updated_at": iso_epoch(connection.updated_at),
    }


def _owner(connection: Connection) -> dict[str, Any] | None:
    if connection.kind is ConnectionKind.SERVICE_ACCOUNT:
        return {"service_account": True}
    if connection.owner is None:
        return None
    return {
        "service_account": False,
        "name": connection.owner.name,
        "email": connection.owner.email,
        "sys_admin": connection.owner.sys_admin,
        "checked_at": iso_epoch(connection.owner.checked_at),
    }


@click.group()
def connections() -> None:
    """Manage the Fortnox connections of restaurants."""


@connections.command("add")
@click.argument("connection_id")
@click.option("--label", required=True, help="Who this is, e.g. the restaurant's name.")
@click.option(
    "--service-account", is_flag=True, help="A Fortnox service account (no refresh token)."
)
@click.option("--tenant", help="Fortnox tenant id (needed for a service account).")
@click.option(
    "--refresh-token-stdin",
    is_flag=True,
    help="Import an existing refresh token read from stdin; from then on only the remediator "
    "may refresh it.",
)
def add(
    connection_id: str,
    label: str,
    service_account: bool,
    tenant: str | None,
    refresh_token_stdin: bool,
) -> None:
    """Register a connection; then authorize it (authorize-url, then connect)."""
    settings = load_settings()
    if service_account and not tenant:
        raise UsageError("a service-account connection needs --tenant")
    refresh = _read_secret() if refresh_token_stdin else None
    store = open_store(settings)
    store.add(
        Connection(
            id=connection_id,
            label=label,
            client_id=settings.client_id,
            kind=ConnectionKind.SERVICE_ACCOUNT
            if service_account
            else ConnectionKind.REFRESH_TOKEN,
            tenant_id=tenant,
            refresh_token=refresh,
        )
    )
    click.echo(f"added connection {connection_id}")


@connections.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(as_json: bool) -> None:
    """List connections and their status."""
    listed = open_store().listed()
    if as_json:
        echo_json([describe(entry) for entry in listed])
        return
    if not listed:
        click.echo("no connections yet: add one with remediator connections add ID --label NAME")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("connection", "status", "tenant", "label", "last refresh", "connected by"):
        table.add_column(column, overflow="fold")
    for c in (entry.connection for entry in listed):
        table.add_row(
            c.id,
            c.status.value,
            c.tenant_id or "-",
            c.label,
            local(c.last_refresh_at),
            owner_line(c),
        )
    people_console().print(table)
    for entry in listed:
        for line in _notes(entry):
            click.echo(f"{entry.connection.id}: {line}")


UNREADABLE = f"its tokens {UNDECRYPTABLE}"


def _notes(entry: Listed) -> list[str]:
    """What to tell about a connection beside its row: its tokens unreadable here, what to do
    about its status, who it rests on."""
    notes = [] if entry.tokens_readable else [UNREADABLE]
    if (advice := _advice(entry.connection)) is not None:
        notes.append(advice)
    if (warning := owner_warning(entry.connection)) is not None:
        notes.append(warning.en)
    return notes


def _advice(connection: Connection) -> str | None:
    """What to do about a connection that cannot be used as it is."""
    if connection.status is ConnectionStatus.NOT_AUTHORIZED:
        return f"not authorized yet: run `remediator connections authorize-url {connection.id}`"
    if connection.status is ConnectionStatus.NEEDS_RECONNECT:
        return (
            "needs reconnecting: run `remediator connections authorize-url "
            f"{connection.id}` (or send the restaurant the service's reconnect link)"
        )
    return None


@connections.command("show")
@click.argument("connection_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(connection_id: str, as_json: bool) -> None:
    """Show one connection (never its tokens)."""
    (entry,) = open_store().listed(connection_id)
    row = describe(entry)
    if as_json:
        echo_json(row)
        return
    row["owner"] = owner_line(entry.connection)
    for key, value in row.items():
        click.echo(f"{key}: {value if value is not None else '-'}")
    if not entry.tokens_readable:
        click.echo(UNREADABLE)
    if (advice := _advice(entry.connection)) is not None:
        click.echo(advice)


@connections.command("remove")
@click.argument("connection_id")
@click.option("--yes", is_flag=True, help="Remove without asking.")
def remove(connection_id: str, yes: bool) -> None:
    """Forget a connection and its tokens (asks first on a terminal; --yes to skip)."""
    store = open_store()
    connection = store.get(connection_id)
    if not yes:
        if not remediate.interactive():
            raise UsageError("not a terminal, so nobody can confirm: pass --yes to remove")
        question = (
            f"Remove connection {connection_id} ({connection.label}) and its tokens? "
            "It must be authorized again in Fortnox to be used"
        )
        if not click.confirm(question, default=False, err=True):
            click.echo("Nothing was removed.", err=True)
            return
    store.remove(connection_id)
    click.echo(f"removed connection {connection_id}")


@connections.command("authorize-url")
@click.argument("connection_id")
@click.option("--state", help="The state to embed (a random one is made otherwise).")
def authorize_url(connection_id: str, state: str | None) -> None:
    """Print the Fortnox consent link for a connection."""
    settings = load_settings()
    store = open_store(settings)
    connection = store.get(connection_id)
    service = connection.kind is ConnectionKind.SERVICE_ACCOUNT

    async def build() -> str:
        async with open_connector(settings, store) as connector:
            return connector.authorization_url(state, service_account=service)[0]

    click.echo(asyncio.run(build()))


@connections.command("connect")
@click.argument("connection_id")
@click.option("--code", help="The code Fortnox appended to the redirect URI.")
def connect(connection_id: str, code: str | None) -> None:
    """Exchange a consent code for tokens (or fetch a service-account token)."""
    settings = load_settings()
    store = open_store(settings)
    connection = store.get(connection_id)

    async def exchange() -> None:
        async with open_connector(settings, store) as connector:
            if connection.kind is ConnectionKind.SERVICE_ACCOUNT:
                await connector.connect_service_account(connection_id)
            elif not code:
                raise UsageError("--code is required for a refresh-token connection")
            else:
                await connector.connect(connection_id, code)
            await learn_owner(connector, store, connection_id)

    asyncio.run(exchange())
    done = store.get(connection_id)
    click.echo(f"connected {connection_id} to Fortnox tenant {done.tenant_id or 'unknown'}")
    click.echo(f"connected by: {owner_line(done)}")
    if (warning := owner_warning(done)) is not None:
        click.echo(f"warning: {warning.en}")


def _read_secret() -> SecretStr:
    value = sys.stdin.readline().strip()
    if not value:
        raise UsageError("no refresh token on stdin")
    return SecretStr(value)
