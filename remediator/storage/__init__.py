"""Durable state: the database, encryption at rest, and the connection store."""

from remediator.fortnox import ConnectionKind, ConnectionStatus, ReconnectCause, TokenSet
from remediator.storage.connections import Connection, ConnectionOwner, ConnectionStore
from remediator.storage.crypto import TokenCipher, load_cipher
from remediator.storage.db import Database

__all__ = [
    "Connection",
    "ConnectionKind",
    "ConnectionOwner",
    "ConnectionStatus",
    "ConnectionStore",
    "Database",
    "ReconnectCause",
    "TokenCipher",
    "TokenSet",
    "load_cipher",
]
