"""What the connector needs from storage: its own types, which storage implements.

The token manager reads a connection's tokens (``StoredConnection``), takes its refresh lock,
marks a refresh as in progress, and stores the rotated tokens only while it still holds the
lock (``TokenStore``). Freshly issued tokens are a ``TokenSet``. ``remediator.storage`` keeps
them in the database; nothing here knows how.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, SecretStr


class ConnectionKind(StrEnum):
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type, not a secret
    SERVICE_ACCOUNT = "service_account"


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_RECONNECT = "needs_reconnect"
    # Never authorized: a refresh-token connection that has held no token yet. Not stored: the
    # store reads an active row without any token so.
    NOT_AUTHORIZED = "not_authorized"


class ReconnectCause(StrEnum):
    """Why a connection needs reconnecting: said apart in its state and in reports."""

    INVALIDATED = "invalidated_by_fortnox"  # Fortnox refused the stored refresh token
    LOST = "lost_by_remediator"  # a refresh did not finish: the rotated token never got stored
    NO_GRANT = "no_refresh_token"  # nothing to refresh with: connect it first
    SERVICE_ACCOUNT_REFUSED = "service_account_refused"


class TokenSet(BaseModel):
    """Tokens as the token endpoint hands them out, ready to be stored."""

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    expires_at: float
    refresh_token: SecretStr | None = None
    refresh_expires_at: float | None = None
    scopes: tuple[str, ...] = ()
    tenant_id: str | None = None


class StoredConnection(Protocol):
    """A connection as stored: what the token manager and the client read of it."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> ConnectionKind: ...
    @property
    def status(self) -> ConnectionStatus: ...
    @property
    def status_reason(self) -> str | None: ...
    @property
    def status_cause(self) -> ReconnectCause | None: ...
    @property
    def tenant_id(self) -> str | None: ...
    @property
    def access_token(self) -> SecretStr | None: ...
    @property
    def access_expires_at(self) -> float | None: ...
    @property
    def refresh_token(self) -> SecretStr | None: ...
    @property
    def refresh_started_at(self) -> float | None: ...

    def access_valid_for(self, now: float) -> float: ...


class TokenStore(Protocol):
    """Where connections' tokens live, with a per-connection refresh lock shared by every
    process that uses the same database (a lease: an owner and an expiry on the row)."""

    def get(self, connection_id: str) -> StoredConnection:
        """The connection as stored now."""
        ...

    def recent(self, connection_id: str, max_age: float) -> StoredConnection | None:
        """A read at most ``max_age`` seconds old, without I/O; ``None`` when there is none."""
        ...

    def save_tokens(self, connection_id: str, tokens: TokenSet) -> StoredConnection:
        """Store tokens a person's consent gave (no lock: a new grant replaces the old)."""
        ...

    def try_lock(
        self, connection_id: str, owner: str, lease_seconds: float
    ) -> StoredConnection | None:
        """Take the refresh lock if it is free, ran out, or is ``owner``'s already: the
        connection as stored when it was taken (read with the lock, in one statement);
        ``None`` when another holds it."""
        ...

    def unlock(self, connection_id: str, owner: str) -> None: ...

    def mark_refreshing(self, connection_id: str, owner: str, lease_seconds: float) -> bool:
        """Durably note "refresh in progress" and renew the lease, only while ``owner`` holds
        the lock (``False``: it does not)."""
        ...

    def store_refreshed(
        self, connection_id: str, owner: str, tokens: TokenSet
    ) -> StoredConnection | None:
        """Store rotated tokens, mark the connection active, clear the mark and let the lock
        go, only while ``owner`` holds it: the connection as stored (``None``: it does not, and
        nothing was written)."""
        ...

    def end_refresh(self, connection_id: str, owner: str) -> None:
        """Clear the mark: Fortnox answered and rotated nothing."""
        ...

    def mark_needs_reconnect(
        self, connection_id: str, reason: str, cause: ReconnectCause
    ) -> None: ...
