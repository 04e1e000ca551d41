"""The one exception tree of the remediator.

    RemediatorError                 exit code 4 unless a subclass says otherwise
    ├── UsageError                  bad input or usage a person can fix (exit 2)
    │   ├── ConfigError             settings that cannot work
    │   ├── UnknownConnectionError  no such connection in the store
    │   ├── ConnectionExists        adding a connection the store holds already
    │   └── RefreshTokenOwned       importing a refresh token into a connection that holds one
    ├── StorageError                the database or key file cannot be used
    ├── LeaseBusy                   a company's lease is held elsewhere, and the caller would not wait
    ├── LeaseLost                   a company's lease ran out or was taken over: stop writing
    ├── JobStopped                  the service is stopping: a daily job ends before its next item
    └── FortnoxError                everything the connector raises
                                    (tree drawn in remediator.fortnox._exceptions)

Every error renders as one line for a person (``str(err)``) and never carries a token.
"""

from __future__ import annotations


class RemediatorError(Exception):
    """Root of every error the remediator raises on purpose."""

    exit_code = 4


class UsageError(RemediatorError):
    """Bad input or usage: a person can correct it and try again."""

    exit_code = 2


class ConfigError(UsageError):
    """The settings cannot work as given."""


class UnknownConnectionError(UsageError):
    """A connection id that the store does not know."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(f"unknown connection {connection_id!r}")
        self.connection_id = connection_id


class ConnectionExists(UsageError):
    """Adding a connection id that the store holds already."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(f"connection {connection_id!r} already exists")
        self.connection_id = connection_id


class RefreshTokenOwned(UsageError):
    """Importing a refresh token into a connection that holds one: the remediator owns it (a
    conflict with the connection's state, not a malformed request)."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(
            f"connection {connection_id!r} already has a refresh token: the remediator owns "
            "it, so it cannot be imported again"
        )
        self.connection_id = connection_id


class StorageError(RemediatorError):
    """The database or the key file cannot be used."""


class LeaseBusy(RemediatorError):
    """The lease on ``key`` is held by someone else, and the caller asked not to wait."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the lease on {key} is held by someone else")
        self.key = key


class LeaseLost(RemediatorError):
    """The lease on ``key`` is no longer ours: the holder must stop before its next write."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"lost the lease on {key}: {reason}")
        self.key = key


class JobStopped(RemediatorError):
    """The service is stopping: a daily job stops before its next item (its slot runs again
    at the next start, here or at another instance)."""

    def __init__(self, job: str) -> None:
        super().__init__(f"job {job} stopped: the service is stopping")
        self.job = job
