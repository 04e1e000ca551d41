"""Who owns a connection: the Fortnox user who consented, read from ``/3/me`` right after
consent, and the warning when the connection rests on a person who is not a system
administrator (it stops working when that person leaves or loses rights)."""

from __future__ import annotations

import asyncio
import logging
import time

from remediator.fortnox import FortnoxConnector, FortnoxError
from remediator.report import Text
from remediator.storage import Connection, ConnectionKind, ConnectionOwner, ConnectionStore

log = logging.getLogger(__name__)


async def learn_owner(
    connector: FortnoxConnector, store: ConnectionStore, connection_id: str
) -> ConnectionOwner | None:
    """Read ``/3/me`` with the connection's token and store who connected; ``None`` (and a
    warning in the log) when Fortnox does not say, e.g. without the ``profile`` scope."""
    connection = await asyncio.to_thread(store.get, connection_id)
    try:
        me = await connector.client(connection, read_only=True).me()
    except FortnoxError as err:
        log.warning("who connected %s is unknown: %s", connection_id, type(err).__name__)
        return None
    owner = ConnectionOwner(
        name=me.name, email=me.email, sys_admin=me.sys_admin, checked_at=time.time()
    )
    await asyncio.to_thread(store.set_owner, connection_id, owner)
    return owner


def owner_line(connection: Connection) -> str:
    """One line for people: who connected and as what."""
    if connection.kind is ConnectionKind.SERVICE_ACCOUNT:
        return "service account"
    owner = connection.owner
    if owner is None:
        return "unknown (not learnt at consent)"
    who = owner.name or "unnamed user"
    if owner.email:
        who += f" <{owner.email}>"
    if owner.sys_admin is None:
        return f"{who}, administrator or not: unknown"
    return f"{who}, {'' if owner.sys_admin else 'not '}a system administrator"


def owner_warning(connection: Connection) -> Text | None:
    """The warning for a connection that rests on a non-administrator's own rights."""
    if not connection.depends_on_person or connection.owner is None:
        return None
    who = connection.owner.name or connection.owner.email or "?"
    return Text(
        sv=f"Kopplingen gjordes av {who}, som inte är systemadministratör i Fortnox. Den "
        "hänger på personens egna behörigheter och slutar fungera om personen slutar eller "
        "förlorar dem. Be en systemadministratör att koppla om (eller använd ett tjänstekonto).",
        en=f"The connection was made by {who}, who is not a system administrator in Fortnox. "
        "It rests on that person's own rights and stops working if they leave or lose them. "
        "Ask a system administrator to reconnect (or use a service account).",
    )
