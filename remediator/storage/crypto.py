"""Encryption of tokens at rest with Fernet; the key comes from settings or a local key file."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from remediator.errors import ConfigError, StorageError

log = logging.getLogger(__name__)


class TokenCipher:
    """Encrypts and decrypts secrets; its repr never shows the key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                "the secret key is not a valid Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
        self._key = key

    def __repr__(self) -> str:
        return "TokenCipher(<key hidden>)"

    def derive(self, label: bytes) -> bytes:
        """A key for another purpose, named by ``label``: HMAC-SHA256(key, label). It reveals
        nothing of this key, and keys for different labels are unrelated."""
        return hmac.new(self._key, label, hashlib.sha256).digest()

    def encrypt(self, secret: SecretStr) -> str:
        return self._fernet.encrypt(secret.get_secret_value().encode()).decode()

    def decrypt(self, token: str) -> SecretStr:
        try:
            return SecretStr(self._fernet.decrypt(token.encode()).decode())
        except InvalidToken:
            raise StorageError(f"a stored token {UNDECRYPTABLE}") from None


# What is wrong with a token this key cannot decrypt, and what to do.
UNDECRYPTABLE = (
    "cannot be decrypted with the configured secret key: every process must use the key it "
    "was written with (REMEDIATOR_SECRET_KEY; a key lost for good: remediator db adopt-key)"
)


def load_cipher(secret_key: SecretStr, key_file: Path) -> TokenCipher:
    """The cipher for ``secret_key``, or for the key in ``key_file`` (created once, mode 0600)."""
    if secret_key.get_secret_value():
        return TokenCipher(secret_key.get_secret_value().encode())
    return TokenCipher(_read_or_create_key_file(key_file))


def _read_or_create_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it meanwhile
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    log.warning("no REMEDIATOR_SECRET_KEY set: generated a key file at %s", path.resolve())
    return key
