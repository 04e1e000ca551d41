"""Which key the stored tokens are encrypted with, checked without storing the key.

Every process that shares a database must encrypt with one key; a process with another one
(another machine's key file, a changed ``REMEDIATOR_SECRET_KEY``) would fail every run it takes
and write tokens no other process can read. So the first process that writes a token records
a check value of its key — an HMAC of a fixed label, which reveals nothing of the key — and
every process compares before each token write (``KeyCheck.ensure``), and the service at
start (``KeyCheck.fits``: a mismatch keeps its workers stopped). A database from before the
check adopts the key that decrypts its last written token.

A key lost for good is replaced with ``KeyCheck.adopt`` (``remediator db adopt-key``): the
tokens the new key cannot read are removed, their connections wait for a reconnect, and the
new key's check value is recorded, all in one transaction.
"""

from __future__ import annotations

import hmac
import threading
import time

import sqlalchemy as sa

from remediator.errors import StorageError
from remediator.fortnox import ConnectionStatus, ReconnectCause
from remediator.storage.crypto import TokenCipher
from remediator.storage.db import (
    Database,
    connections,
    inserted,
    key_checks,
    reading,
    write_transaction,
)

MISFIT = "does not decrypt the stored tokens"  # what /healthz says of such a key
WRONG_KEY = f"the secret key {MISFIT}"
_NAME = "tokens"
_LABEL = b"remediator key check"
_STORED = sa.select(key_checks.c.value).where(key_checks.c.name == _NAME)
_TOKEN = sa.func.coalesce(connections.c.refresh_token, connections.c.access_token)
# A connection whose tokens were written with a lost key: nothing to refresh with any more.
_FORGOTTEN = {
    "access_token": None,
    "access_expires_at": None,
    "refresh_token": None,
    "refresh_expires_at": None,
    "refresh_started_at": None,
    "status": ConnectionStatus.NEEDS_RECONNECT.value,
    "status_reason": "its tokens were encrypted with a secret key that is lost: reconnect it",
    "status_cause": ReconnectCause.NO_GRANT.value,
}
_LAST_TOKEN = (
    sa.select(_TOKEN).where(_TOKEN.is_not(None)).order_by(connections.c.updated_at.desc()).limit(1)
)


class KeyCheck:
    """Whether this process's key is the database's token key (``fits`` remembers a fit;
    ``ensure`` reads the record again)."""

    def __init__(self, database: Database, cipher: TokenCipher) -> None:
        self._db, self._cipher = database, cipher
        self._fits = False
        self._lock = threading.Lock()

    def fits(self) -> bool:
        """Compare with the recorded check value, recording this key's when there is none yet
        (and no stored token contradicts it)."""
        if self._fits:
            return True
        with self._lock:
            if not self._fits:
                self._fits = self._compared()
            return self._fits

    def fits_now(self) -> bool:
        """``fits``, and the recorded check value is still this key's (read again: a key
        another process adopted since, ``adopt``, no longer fits)."""
        return self.fits() and self._still_recorded()

    def ensure(self) -> None:
        """Raise ``StorageError`` unless the key fits: before anything is encrypted with it.
        The recorded check value is read again each time (a read; token writes are rare), so
        a key another process adopted since (``adopt``) is seen before this one writes a token
        no other process can read. Call it outside a write transaction (it may open one,
        once)."""
        if not self.fits_now():
            raise StorageError(
                f"{WRONG_KEY}: this process's key is not the one this database's tokens are "
                "encrypted with (set REMEDIATOR_SECRET_KEY to that key on every machine)"
            )

    def unreadable(self) -> list[str]:
        """The connections holding a token this key cannot decrypt."""
        with self._db.engine.connect() as conn:
            return self._unreadable(conn)

    def adopt(self) -> list[str]:
        """Make this key the database's: remove every token it cannot decrypt (those
        connections must be reconnected) and record its check value. Every other process
        must be stopped first: one that still holds the old key would write with it."""
        with write_transaction(self._db.engine) as conn:
            lost = self._unreadable(conn)
            if lost:
                conn.execute(
                    connections.update()
                    .where(connections.c.id.in_(lost))
                    .values(**_FORGOTTEN, updated_at=time.time())
                )
            conn.execute(key_checks.delete().where(key_checks.c.name == _NAME))
            row = {"name": _NAME, "value": self._mine(), "created_at": time.time()}
            conn.execute(key_checks.insert().values(**row))
        self._fits = True
        return lost

    def _unreadable(self, conn: sa.Connection) -> list[str]:
        rows = conn.execute(
            sa.select(connections.c.id, connections.c.access_token, connections.c.refresh_token)
            .where(_TOKEN.is_not(None))
            .order_by(connections.c.id)
        )
        return [
            row.id for row in rows if not self._decrypt_all(row.access_token, row.refresh_token)
        ]

    def _decrypt_all(self, *stored: str | None) -> bool:
        try:
            for token in stored:
                if token is not None:
                    self._cipher.decrypt(token)
        except StorageError:
            return False
        return True

    def _mine(self) -> str:
        return self._cipher.derive(_LABEL).hex()

    def _compared(self) -> bool:
        mine = self._mine()
        with write_transaction(self._db.engine) as conn:
            stored = conn.execute(_STORED).scalar()
            if stored is None:
                if not self._decrypts_last_token(conn):
                    return False
                row = {"name": _NAME, "value": mine, "created_at": time.time()}
                stored = mine if inserted(conn, key_checks, row) else conn.execute(_STORED).scalar()
        return stored is not None and hmac.compare_digest(str(stored), mine)

    def _still_recorded(self) -> bool:
        with reading(self._db.engine) as conn:
            stored = conn.execute(_STORED).scalar()
        return stored is not None and hmac.compare_digest(str(stored), self._mine())

    def _decrypts_last_token(self, conn: sa.Connection) -> bool:
        return self._decrypt_all(conn.execute(_LAST_TOKEN).scalar())
