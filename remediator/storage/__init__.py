"""Durable state: the database, encryption at rest, and the connection store."""

from remediator.storage.connections import (
    Connection,
    ConnectionKind,
    ConnectionStatus,
    ConnectionStore,
    TokenSet,
)
from remediator.storage.crypto import TokenCipher, load_cipher
from remediator.storage.db import Database

__all__ = [
    "Connection",
    "ConnectionKind",
    "ConnectionStatus",
    "ConnectionStore",
    "Database",
    "TokenCipher",
    "TokenSet",
    "load_cipher",
]
