"""Connections: one restaurant's link to one Fortnox company, with its tokens encrypted at rest."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, SecretStr

from remediator.errors import (
    ConnectionExists,
    RefreshTokenOwned,
    StorageError,
    UnknownConnectionError,
)
from remediator.fortnox import ConnectionKind, ConnectionStatus, ReconnectCause, TokenSet
from remediator.policy import Policy
from remediator.storage.audit import record_in
from remediator.storage.crypto import TokenCipher
from remediator.storage.db import (
    Database,
    autocommitted,
    connections,
    inserted,
    reading,
    write_transaction,
)
from remediator.storage.keys import KeyCheck

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection as SAConnection


# The statements of every run and every refresh, built once and bound per call.
_ID = sa.bindparam("connection", type_=sa.String)
_BY_ID = sa.select(connections).where(connections.c.id == _ID)
_LOCKER = sa.bindparam("lock_owner_", type_=sa.String)
_TRY_LOCK = (  # the refresh lock, if free, run out or already the caller's
    connections.update()
    .where(
        connections.c.id == _ID,
        sa.or_(
            connections.c.lock_owner.is_(None),
            connections.c.lock_until < sa.bindparam("lock_now", type_=sa.Float),
            connections.c.lock_owner == _LOCKER,
        ),
    )
    .values(lock_owner=_LOCKER, lock_until=sa.bindparam("lock_until_", type_=sa.Float))
    .returning(*connections.c)
)
_HOLDS = sa.and_(connections.c.id == _ID, connections.c.lock_owner == _LOCKER)
# The rotated tokens, stored while the caller holds the refresh lock, which they let go
# (bound as ``_token_values`` names them, each with a trailing "_"; scopes and tenant kept
# when the answer named none).
_TOKEN_COLUMNS = (
    "access_token",
    "access_expires_at",
    "refresh_token",
    "refresh_expires_at",
    "last_refresh_at",
    "refresh_started_at",
    "status",
    "status_reason",
    "status_cause",
    "updated_at",
)


def _bound(column: str) -> sa.BindParameter[Any]:
    return sa.bindparam(f"{column}_", type_=connections.c[column].type)


_STORE_REFRESHED = (
    connections.update()
    .where(_HOLDS)
    .values(
        {column: _bound(column) for column in _TOKEN_COLUMNS}
        | {
            "scopes": sa.func.coalesce(_bound("scopes"), connections.c.scopes),
            "tenant_id": sa.func.coalesce(_bound("tenant_id"), connections.c.tenant_id),
            "lock_owner": None,
            "lock_until": None,
        }
    )
    .returning(*connections.c)
)
_MARK_REFRESHING = (  # "a refresh is in progress", and the lock renewed
    connections.update()
    .where(_HOLDS)
    .values(
        refresh_started_at=sa.bindparam("started", type_=sa.Float),
        lock_until=sa.bindparam("lock_until_", type_=sa.Float),
    )
)
_END_REFRESH = connections.update().where(_HOLDS).values(refresh_started_at=None)
_UNLOCK = connections.update().where(_HOLDS).values(lock_owner=None, lock_until=None)


class ConnectionOwner(BaseModel):
    """Who connected, as Fortnox's ``/3/me`` answered at consent."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    email: str | None = None
    sys_admin: bool | None = None  # None: Fortnox did not say
    checked_at: float


class Connection(BaseModel):
    """A stored connection. Tokens are ``SecretStr``: their repr and str never show them."""

    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    client_id: str
    kind: ConnectionKind = ConnectionKind.REFRESH_TOKEN
    status: ConnectionStatus = ConnectionStatus.ACTIVE
    status_reason: str | None = None
    status_cause: ReconnectCause | None = None  # why it needs reconnecting
    tenant_id: str | None = None
    scopes: tuple[str, ...] = ()
    access_token: SecretStr | None = None
    access_expires_at: float | None = None
    refresh_token: SecretStr | None = None
    refresh_expires_at: float | None = None
    last_refresh_at: float | None = None
    refresh_started_at: float | None = None  # a refresh is (or was left) in progress
    policy: Policy | None = None  # None: the deployment's default policy
    restaurant_id: str | None = None
    restaurant_name: str | None = None
    owner: ConnectionOwner | None = None  # None: not learnt (yet)
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def depends_on_person(self) -> bool:
        """Whether the connection rests on a person who is not a system administrator (a
        service account never does; an owner not learnt is not assumed to)."""
        if self.kind is ConnectionKind.SERVICE_ACCOUNT or self.owner is None:
            return False
        return self.owner.sys_admin is not True

    def access_valid_for(self, now: float) -> float:
        """Seconds the stored access token is still valid (0 when there is none)."""
        if self.access_token is None or self.access_expires_at is None:
            return 0.0
        return max(0.0, self.access_expires_at - now)

    @staticmethod
    def timestamp(value: float | None) -> datetime | None:
        return None if value is None else datetime.fromtimestamp(value, tz=UTC)


@dataclass(frozen=True)
class ConnectionChanges:
    """What one request changes on a connection; ``None`` leaves a field as it is."""

    label: str | None = None
    tenant_id: str | None = None
    restaurant: tuple[str, str] | None = None  # id, name
    policy: Policy | None = None
    refresh_token: SecretStr | None = None  # imported once: refused when one is stored


@dataclass(frozen=True)
class Listed:
    """A connection as shown to people: its tokens only when this process's key reads them
    (a support person's shell without the service's key still sees what is stored)."""

    connection: Connection  # without tokens unless ``tokens_readable``
    has_refresh_token: bool
    tokens_readable: bool


class ConnectionStore:
    """Reads and writes connections; every method is one short transaction.

    The store also remembers what its last read of each connection saw, for ``recent``: a
    read that may skip the database. Every write through this store forgets the connection
    at once; a write by another process is seen after ``max_age`` seconds at the latest.
    """

    def __init__(self, database: Database, cipher: TokenCipher) -> None:
        self._db = database
        self._cipher = cipher
        self._keys = KeyCheck(database, cipher)
        self._seen: dict[str, tuple[float, Connection]] = {}
        self._writes: dict[str, int] = {}  # per connection: writes made through this store
        self._seen_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ConnectionStore({self._db!r})"

    def add(self, connection: Connection) -> Connection:
        """Store a new connection; ``ConnectionExists`` when its id is taken."""
        self._keys.ensure()  # before the transaction: its tokens are encrypted inside
        with write_transaction(self._db.engine) as conn:
            self._insert(conn, connection)
        self._written(connection.id)
        return self.get(connection.id)

    def _read(self, connection_id: str) -> Connection:
        with reading(self._db.engine) as conn:
            row = conn.execute(_BY_ID, {"connection": connection_id}).mappings().first()
        if row is None:
            raise UnknownConnectionError(connection_id)
        return self._from_row(row)

    def get(self, connection_id: str) -> Connection:
        """The connection as stored now (always reads the database)."""
        writes, read_at = self._writes_now(connection_id), time.monotonic()
        connection = self._read(connection_id)
        self._remember(connection_id, connection, read_at, writes)
        return connection

    def _writes_now(self, connection_id: str) -> int:
        with self._seen_lock:
            return self._writes.get(connection_id, 0)

    def _remember(
        self, connection_id: str, connection: Connection, read_at: float, writes: int
    ) -> None:
        """Keep ``connection`` for ``recent``: read at ``read_at`` when this store had made
        ``writes`` writes to it. A write that committed meanwhile may or may not be in what was
        read: nothing is kept then, so that ``recent`` never hands out what a write replaced."""
        with self._seen_lock:
            if self._writes.get(connection_id, 0) == writes:
                self._seen[connection_id] = (read_at, connection)

    def recent(self, connection_id: str, max_age: float) -> Connection | None:
        """The connection as read or written through this store at most ``max_age`` seconds
        ago, and not written through it since; ``None`` when there is no such read (no I/O:
        callers on the event loop may use it directly). For hot paths that can live with
        another process's write being seen up to ``max_age`` later, such as the token
        manager's fast path; anything deciding on a refresh reads with ``get``."""
        with self._seen_lock:
            seen = self._seen.get(connection_id)
        if seen is None or time.monotonic() - seen[0] > max_age:
            return None
        return seen[1]

    def _written(self, connection_id: str) -> None:
        """Forget what was read of ``connection_id``: it has just been written."""
        with self._seen_lock:
            self._writes[connection_id] = self._writes.get(connection_id, 0) + 1
            self._seen.pop(connection_id, None)

    def all(self) -> list[Connection]:
        with self._db.engine.connect() as conn:
            rows = conn.execute(sa.select(connections).order_by(connections.c.id)).mappings()
            return [self._from_row(row) for row in rows]

    def listed(self, connection_id: str | None = None) -> list[Listed]:
        """Every connection (or ``connection_id``'s: ``UnknownConnectionError`` when it is
        not stored), for showing: one whose tokens this key cannot decrypt is listed without
        them, not refused."""
        query = sa.select(connections).order_by(connections.c.id)
        if connection_id is not None:
            query = query.where(connections.c.id == connection_id)
        with self._db.engine.connect() as conn:
            rows = list(conn.execute(query).mappings())
        if connection_id is not None and not rows:
            raise UnknownConnectionError(connection_id)
        return [self._listed(row) for row in rows]

    def _listed(self, row: sa.RowMapping) -> Listed:
        stored = row["refresh_token"] is not None
        try:
            return Listed(self._from_row(row), has_refresh_token=stored, tokens_readable=True)
        except StorageError:  # the key does not decrypt them
            sealed = self._from_row(row, tokens=False)
            return Listed(sealed, has_refresh_token=stored, tokens_readable=False)

    def with_tenant(self, tenant_id: str) -> list[Connection]:
        with self._db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(connections)
                .where(connections.c.tenant_id == tenant_id)
                .order_by(connections.c.id)
            ).mappings()
            return [self._from_row(row) for row in rows]

    def remove(self, connection_id: str) -> None:
        try:
            with self._db.engine.begin() as conn:
                result = conn.execute(connections.delete().where(connections.c.id == connection_id))
        finally:
            self._written(connection_id)
        if result.rowcount == 0:
            raise UnknownConnectionError(connection_id)

    def save_tokens(self, connection_id: str, tokens: TokenSet) -> Connection:
        """Store freshly issued tokens (a consent, a service account's first token) and mark
        the connection active."""
        self._update(connection_id, self._token_values(tokens))
        return self.get(connection_id)

    def store_refreshed(
        self, connection_id: str, owner: str, tokens: TokenSet
    ) -> Connection | None:
        """Store rotated tokens only while ``owner`` holds the connection's refresh lock, and
        clear the "refresh in progress" mark, and let the lock go: the connection as stored
        (read back by the same statement); ``None`` when it does not (nothing written)."""
        values = self._token_values(tokens) | {"updated_at": time.time()}
        bound = {f"{c}_": values.get(c) for c in (*_TOKEN_COLUMNS, "scopes", "tenant_id")}
        bound |= {"connection": connection_id, "lock_owner_": owner}
        writes, read_at = self._writes_now(connection_id), time.monotonic()
        try:
            with autocommitted(self._db.engine) as conn:
                row = conn.execute(_STORE_REFRESHED, bound).mappings().first()
        finally:
            self._written(connection_id)
        if row is None:
            return None
        saved = self._from_row(row)
        self._remember(connection_id, saved, read_at, writes + 1)  # + this write
        return saved

    def _token_values(self, tokens: TokenSet) -> dict[str, Any]:
        values: dict[str, Any] = {
            "access_token": self._seal(tokens.access_token),
            "access_expires_at": tokens.expires_at,
            "refresh_token": (self._seal(tokens.refresh_token) if tokens.refresh_token else None),
            "refresh_expires_at": tokens.refresh_expires_at,
            "last_refresh_at": time.time(),
            "refresh_started_at": None,
            "status": ConnectionStatus.ACTIVE.value,
            "status_reason": None,
            "status_cause": None,
        }
        if tokens.scopes:
            values["scopes"] = " ".join(tokens.scopes)
        if tokens.tenant_id:
            values["tenant_id"] = tokens.tenant_id
        return values

    def mark_needs_reconnect(
        self,
        connection_id: str,
        reason: str,
        cause: ReconnectCause = ReconnectCause.INVALIDATED,
    ) -> None:
        """The connection cannot be used until a person reconnects it; ``cause`` says why
        (and a refresh left in progress is over)."""
        self._update(
            connection_id,
            {
                "status": ConnectionStatus.NEEDS_RECONNECT.value,
                "status_reason": reason,
                "status_cause": cause.value,
                "refresh_started_at": None,
            },
        )

    def set_policy(
        self, connection_id: str, policy: Policy | None, audit: dict[str, Any] | None = None
    ) -> None:
        """Store the connection's policy, and ``audit`` (an ``audit_row``) in the same
        transaction: a policy never changes without its record, nor the record without it."""
        values = {"policy": policy.model_dump_json() if policy else None}
        self._update(connection_id, values, audit)

    def set_tenant(self, connection_id: str, tenant_id: str) -> None:
        self._update(connection_id, {"tenant_id": tenant_id})

    def set_owner(self, connection_id: str, owner: ConnectionOwner) -> None:
        self._update(
            connection_id,
            {
                "owner_name": owner.name,
                "owner_email": owner.email,
                "owner_sys_admin": owner.sys_admin,
                "owner_checked_at": owner.checked_at,
            },
        )

    def set_label(self, connection_id: str, label: str) -> None:
        self._update(connection_id, {"label": label})

    def set_restaurant(self, connection_id: str, restaurant_id: str, name: str) -> None:
        self._update(connection_id, {"restaurant_id": restaurant_id, "restaurant_name": name})

    def exists(self, connection_id: str) -> bool:
        """Whether the connection is known (cheap: decrypts nothing)."""
        with self._db.engine.connect() as conn:
            found = conn.execute(
                sa.select(connections.c.id).where(connections.c.id == connection_id)
            ).first()
        return found is not None

    def key_fits(self) -> bool:
        """Whether the configured key is the one this database's tokens are encrypted with
        now (``remediator.storage.keys``)."""
        return self._keys.fits_now()

    def import_refresh_token(self, connection_id: str, refresh_token: SecretStr) -> None:
        """Take over an existing refresh token, once: refused when one is stored already."""
        sealed = self._seal(refresh_token)
        try:
            with write_transaction(self._db.engine) as conn:
                result = conn.execute(
                    connections.update()
                    .where(connections.c.id == connection_id, connections.c.refresh_token.is_(None))
                    .values(
                        refresh_token=sealed,
                        refresh_expires_at=None,
                        status=ConnectionStatus.ACTIVE.value,
                        status_reason=None,
                        status_cause=None,
                        updated_at=time.time(),
                    )
                )
        finally:
            self._written(connection_id)
        if result.rowcount == 0:
            self.get(connection_id)  # raises for an unknown connection
            raise RefreshTokenOwned(connection_id)

    def put(
        self, connection_id: str, changes: ConnectionChanges, *, new: Connection | None = None
    ) -> Connection:
        """Create ``new`` (when given) and make ``changes``, in one transaction: a refusal
        (it exists already; it has a refresh token already) or an error changes nothing."""
        values = self._changed(changes)  # encrypts first: nothing is written if that fails
        if new is not None:
            self._keys.ensure()  # before the transaction: its tokens are encrypted inside
        try:
            with write_transaction(self._db.engine) as conn:
                if new is not None:
                    self._insert(conn, new)
                if changes.refresh_token is not None:
                    self._refresh_token_free(conn, connection_id)
                if values:
                    result = conn.execute(
                        connections.update()
                        .where(connections.c.id == connection_id)
                        .values(**values, updated_at=time.time())
                    )
                    if result.rowcount == 0:
                        raise UnknownConnectionError(connection_id)
        finally:
            self._written(connection_id)
        return self.get(connection_id)

    def _insert(self, conn: SAConnection, connection: Connection) -> None:
        """Insert ``connection``, or raise ``ConnectionExists``: also when another transaction
        inserts the same id at the same moment (on PostgreSQL this one waits for it to end)."""
        now = time.time()
        row = self._to_row(connection) | {"created_at": now, "updated_at": now}
        if not inserted(conn, connections, row):
            raise ConnectionExists(connection.id)

    def _refresh_token_free(self, conn: SAConnection, connection_id: str) -> None:
        stored = conn.execute(
            sa.select(connections.c.refresh_token).where(connections.c.id == connection_id)
        ).first()
        if stored is None:
            raise UnknownConnectionError(connection_id)
        if stored[0] is not None:
            raise RefreshTokenOwned(connection_id)

    def _changed(self, changes: ConnectionChanges) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if changes.label is not None:
            values["label"] = changes.label
        if changes.tenant_id is not None:
            values["tenant_id"] = changes.tenant_id
        if changes.restaurant is not None:
            values["restaurant_id"], values["restaurant_name"] = changes.restaurant
        if changes.policy is not None:
            values["policy"] = changes.policy.model_dump_json()
        if changes.refresh_token is not None:
            values |= {
                "refresh_token": self._seal(changes.refresh_token),
                "refresh_expires_at": None,
                "status": ConnectionStatus.ACTIVE.value,
                "status_reason": None,
                "status_cause": None,
            }
        return values

    def try_lock(self, connection_id: str, owner: str, lease_seconds: float) -> Connection | None:
        """Take the connection's refresh lock if it is free, its lease ran out or it is
        ``owner``'s: the connection as stored then (the same statement reads it back);
        ``None`` when another holds the lock.

        The lock is committed without a sync to disk (SQLite): a power loss that takes it back
        has stopped its holder too, and ``mark_refreshing`` syncs it before any token request.
        """
        now = time.time()
        bound = {
            "connection": connection_id,
            "lock_now": now,
            "lock_owner_": owner,
            "lock_until_": now + lease_seconds,
        }
        with autocommitted(self._db.engine, durable=False) as conn:
            row = conn.execute(_TRY_LOCK, bound).mappings().first()
        return None if row is None else self._from_row(row)

    def unlock(self, connection_id: str, owner: str) -> None:
        """Let ``owner``'s refresh lock go (unsynced, as it was taken)."""
        bound = {"connection": connection_id, "lock_owner_": owner}
        with autocommitted(self._db.engine, durable=False) as conn:
            conn.execute(_UNLOCK, bound)

    def mark_refreshing(self, connection_id: str, owner: str, lease_seconds: float) -> bool:
        """Note durably that a refresh is in progress (before the token request: should the
        rotated token never get stored, the next ``invalid_grant`` is known as ours) and renew
        the lease; only while ``owner`` holds the lock."""
        now = time.time()
        return self._while_owner(
            connection_id, owner, _MARK_REFRESHING, started=now, lock_until_=now + lease_seconds
        )

    def end_refresh(self, connection_id: str, owner: str) -> None:
        """Clear the "refresh in progress" mark: Fortnox answered and rotated nothing."""
        self._while_owner(connection_id, owner, _END_REFRESH)

    def _while_owner(
        self, connection_id: str, owner: str, statement: sa.Update, **values: Any
    ) -> bool:
        """Run ``statement`` (a write of a row that ``owner``'s refresh lock holds, bound with
        ``values``); whether the lock was still ``owner``'s."""
        bound = {"connection": connection_id, "lock_owner_": owner} | values
        try:
            with autocommitted(self._db.engine) as conn:
                result = conn.execute(statement, bound)
        finally:
            self._written(connection_id)
        return bool(result.rowcount == 1)

    def _update(
        self, connection_id: str, values: dict[str, Any], audit: dict[str, Any] | None = None
    ) -> None:
        values = values | {"updated_at": time.time()}
        try:
            with write_transaction(self._db.engine) as conn:
                result = conn.execute(
                    connections.update().where(connections.c.id == connection_id).values(**values)
                )
                if audit is not None and result.rowcount:
                    record_in(conn, audit)
        finally:
            self._written(connection_id)
        if result.rowcount == 0:
            raise UnknownConnectionError(connection_id)

    def _to_row(self, connection: Connection) -> dict[str, Any]:
        return {
            "id": connection.id,
            "label": connection.label,
            "tenant_id": connection.tenant_id,
            "client_id": connection.client_id,
            "scopes": " ".join(connection.scopes),
            "kind": connection.kind.value,
            "status": connection.status.value,
            "status_reason": connection.status_reason,
            "status_cause": connection.status_cause.value if connection.status_cause else None,
            "access_token": self._encrypt(connection.access_token),
            "access_expires_at": connection.access_expires_at,
            "refresh_token": self._encrypt(connection.refresh_token),
            "refresh_expires_at": connection.refresh_expires_at,
            "last_refresh_at": connection.last_refresh_at,
            "refresh_started_at": connection.refresh_started_at,
            "policy": connection.policy.model_dump_json() if connection.policy else None,
            "restaurant_id": connection.restaurant_id,
            "restaurant_name": connection.restaurant_name,
            "owner_name": connection.owner.name if connection.owner else None,
            "owner_email": connection.owner.email if connection.owner else None,
            "owner_sys_admin": connection.owner.sys_admin if connection.owner else None,
            "owner_checked_at": connection.owner.checked_at if connection.owner else None,
        }

    def _from_row(self, row: sa.RowMapping, *, tokens: bool = True) -> Connection:
        """The stored connection; ``tokens=False``: without its tokens (not decrypted)."""
        return Connection(
            id=row["id"],
            label=row["label"],
            tenant_id=row["tenant_id"],
            client_id=row["client_id"],
            scopes=tuple(row["scopes"].split()) if row["scopes"] else (),
            kind=ConnectionKind(row["kind"]),
            status=_status(row),
            status_reason=row["status_reason"],
            status_cause=ReconnectCause(row["status_cause"]) if row["status_cause"] else None,
            access_token=self._decrypt(row["access_token"]) if tokens else None,
            access_expires_at=row["access_expires_at"],
            refresh_token=self._decrypt(row["refresh_token"]) if tokens else None,
            refresh_expires_at=row["refresh_expires_at"],
            last_refresh_at=row["last_refresh_at"],
            refresh_started_at=row["refresh_started_at"],
            policy=Policy.model_validate_json(row["policy"]) if row["policy"] else None,
            restaurant_id=row["restaurant_id"],
            restaurant_name=row["restaurant_name"],
            owner=_owner(row),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def _encrypt(self, secret: SecretStr | None) -> str | None:
        return None if secret is None else self._seal(secret)

    def _seal(self, secret: SecretStr) -> str:
        """``secret`` encrypted, once this key is known to be the database's."""
        self._keys.ensure()
        return self._cipher.encrypt(secret)

    def _decrypt(self, stored: str | None) -> SecretStr | None:
        return None if stored is None else self._cipher.decrypt(stored)


def _owner(row: sa.RowMapping) -> ConnectionOwner | None:
    if row["owner_checked_at"] is None:
        return None
    return ConnectionOwner(
        name=row["owner_name"],
        email=row["owner_email"],
        sys_admin=row["owner_sys_admin"],
        checked_at=row["owner_checked_at"],
    )


def _status(row: sa.RowMapping) -> ConnectionStatus:
    """The stored status; an active refresh-token row that never held a token reads as
    ``not_authorized``."""
    stored = ConnectionStatus(row["status"])
    never = row["refresh_token"] is None and row["access_token"] is None
    if stored is ConnectionStatus.ACTIVE and never and row["kind"] == "refresh_token":
        return ConnectionStatus.NOT_AUTHORIZED
    return stored
