"""OAuth ``state`` values of reconnect links: single use, expiring, bound to one connection.

Only a SHA-256 of each state is stored, so the table is no use to someone who reads it.
"""

from __future__ import annotations

import hashlib
import secrets
import time

import sqlalchemy as sa

from remediator.errors import UsageError
from remediator.storage.db import Database, oauth_states, write_transaction


class InvalidStateError(UsageError):
    """The state is unknown, already used, or expired."""


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class OAuthStateStore:
    def __init__(self, database: Database) -> None:
        self._engine = database.engine

    def issue(self, connection_id: str, lifetime: float) -> str:
        """A new state for ``connection_id``, valid for ``lifetime`` seconds."""
        state = secrets.token_urlsafe(32)
        now = time.time()
        with write_transaction(self._engine) as conn:
            conn.execute(oauth_states.delete().where(oauth_states.c.expires_at < now - 86400))
            conn.execute(
                oauth_states.insert().values(
                    state_hash=_hash(state),
                    connection_id=connection_id,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
        return state

    def consume(self, state: str) -> str:
        """Use a state once; returns the connection it is bound to, or raises."""
        now = time.time()
        key = _hash(state)
        with write_transaction(self._engine) as conn:
            result = conn.execute(
                oauth_states.update()
                .where(
                    oauth_states.c.state_hash == key,
                    oauth_states.c.used_at.is_(None),
                    oauth_states.c.expires_at >= now,
                )
                .values(used_at=now)
            )
            if result.rowcount != 1:
                raise InvalidStateError(
                    "the link is unknown, already used or expired: open a new reconnect link"
                )
            found = conn.execute(
                sa.select(oauth_states.c.connection_id).where(oauth_states.c.state_hash == key)
            ).scalar_one()
        return str(found)
