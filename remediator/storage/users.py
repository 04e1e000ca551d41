"""The web console's people and their sessions.

Passwords are hashed with Argon2id (argon2-cffi); one-time links and session tokens are
stored only as their SHA-256, so a copy of the database logs no one in. After
``MAX_FAILED_LOGINS`` wrong passwords in a row an account is locked for ``LOCK_SECONDS``.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict

from remediator.errors import UsageError
from remediator.storage.audit import Actor, AuditAction, Via, audit_row, record_in
from remediator.storage.db import Database, console_sessions, inserted, users, write_transaction

MAX_FAILED_LOGINS = 5
LOCK_SECONDS = 900.0
MIN_PASSWORD = 10
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so that a wrong name takes as long as a
    wrong password (the login answer must not tell which names exist). Made when the first
    store is, not at import: hashing is slow by design (0.2 s on a 2-CPU machine), and
    processes that never log anyone in import this module."""
    return _HASHER.hash(secrets.token_urlsafe(16))


class UnknownUserError(UsageError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown user {name!r}")


class User(BaseModel):
    """A person who may use the console (never their password hash)."""

    model_config = ConfigDict(frozen=True)

    name: str
    email: str
    disabled: bool
    has_password: bool
    failed_logins: int
    locked_until: float | None
    created_at: float
    last_login_at: float | None


@dataclass(frozen=True)
class Session:
    """A signed-in person: the CSRF token every form of theirs must carry."""

    user: str
    csrf_token: str
    expires_at: float


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"a password needs at least {MIN_PASSWORD} characters")


def _user(row: sa.RowMapping) -> User:
    return User(
        name=row["name"],
        email=row["email"],
        disabled=bool(row["disabled"]),
        has_password=row["password_hash"] is not None,
        failed_logins=row["failed_logins"] or 0,
        locked_until=row["locked_until"],
        created_at=row["created_at"],
        last_login_at=row["last_login_at"],
    )


class UserStore:
    """Accounts, one-time links, logins and sessions; every method one short transaction."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        _dummy_hash()  # before any login, so that the first one takes no longer

    # -- accounts --------------------------------------------------------------------
    def add(self, name: str, email: str, actor: Actor) -> User:
        name, email = name.strip(), email.strip()
        if not name or len(name) > 100 or not email or "@" not in email:  # noqa: PLR2004
            raise UsageError("a user needs a name (at most 100 characters) and an email address")
        row = {
            "name": name,
            "email": email,
            "disabled": False,
            "failed_logins": 0,
            "created_at": time.time(),
        }
        with write_transaction(self._engine) as conn:
            if not inserted(conn, users, row):  # there already, or added meanwhile
                raise UsageError(f"user {name!r} already exists")
            record_in(conn, audit_row(actor, AuditAction.USER_ADD, detail=f"{name} <{email}>"))
        return self.get(name)

    def get(self, name: str) -> User:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).mappings().first()
        if row is None:
            raise UnknownUserError(name)
        return _user(row)

    def all(self) -> list[User]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.name)).mappings()
            return [_user(row) for row in rows]

    def set_disabled(self, name: str, actor: Actor, *, disabled: bool) -> None:
        """Disable (every session of theirs ends) or enable an account."""
        action = AuditAction.USER_DISABLE if disabled else AuditAction.USER_ENABLE
        with write_transaction(self._engine) as conn:
            self._must_exist(conn, name)
            conn.execute(users.update().where(users.c.name == name).values(disabled=disabled))
            if disabled:
                conn.execute(console_sessions.delete().where(console_sessions.c.user_name == name))
            record_in(conn, audit_row(actor, action, detail=name))

    def remove(self, name: str, actor: Actor) -> None:
        with write_transaction(self._engine) as conn:
            self._must_exist(conn, name)
            conn.execute(console_sessions.delete().where(console_sessions.c.user_name == name))
            conn.execute(users.delete().where(users.c.name == name))
            record_in(conn, audit_row(actor, AuditAction.USER_REMOVE, detail=name))

    def set_password(self, name: str, password: str, actor: Actor) -> None:
        """A new password; a pending one-time link is used up and every session ends."""
        check_password(password)
        hashed = _HASHER.hash(password)
        with write_transaction(self._engine) as conn:
            self._must_exist(conn, name)
            conn.execute(
                users.update()
                .where(users.c.name == name)
                .values(
                    password_hash=hashed,
                    invite_hash=None,
                    invite_expires_at=None,
                    failed_logins=0,
                    locked_until=None,
                )
            )
            conn.execute(console_sessions.delete().where(console_sessions.c.user_name == name))
            record_in(conn, audit_row(actor, AuditAction.PASSWORD_SET, detail=name))

    def _must_exist(self, conn: sa.Connection, name: str) -> None:
        if conn.execute(sa.select(users.c.name).where(users.c.name == name)).first() is None:
            raise UnknownUserError(name)

    # -- one-time links ----------------------------------------------------------------
    def invite(self, name: str, seconds: float) -> str:
        """A one-time token to choose a password with (replaces an earlier one)."""
        token = secrets.token_urlsafe(32)
        with write_transaction(self._engine) as conn:
            self._must_exist(conn, name)
            conn.execute(
                users.update()
                .where(users.c.name == name)
                .values(invite_hash=digest(token), invite_expires_at=time.time() + seconds)
            )
        return token

    def invited(self, token: str) -> User | None:
        """The person a one-time token is for, while it is valid."""
        if not token:
            return None
        with self._engine.connect() as conn:
            row = (
                conn.execute(sa.select(users).where(users.c.invite_hash == digest(token)))
                .mappings()
                .first()
            )
        if row is None or row["disabled"] or (row["invite_expires_at"] or 0) < time.time():
            return None
        return _user(row)

    def accept_invite(self, token: str, password: str) -> User:
        user = self.invited(token)
        if user is None:
            raise UsageError("this link is not valid (used, expired or unknown)")
        self.set_password(user.name, password, Actor(user.name, Via.CONSOLE))
        return self.get(user.name)

    # -- logins and sessions ---------------------------------------------------------
    def login(self, name: str, password: str) -> User | None:
        """The person, when the password is theirs and the account may log in; counts
        failures, and locks the account after ``MAX_FAILED_LOGINS`` of them in a row."""
        now = time.time()
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).mappings().first()
        stored = row["password_hash"] if row is not None else None
        good = _verify(stored or _dummy_hash(), password) and stored is not None
        if row is None:
            return None
        if (row["locked_until"] or 0) > now or row["disabled"]:
            return None
        with write_transaction(self._engine) as conn:
            if good:
                conn.execute(
                    users.update()
                    .where(users.c.name == name)
                    .values(failed_logins=0, locked_until=None, last_login_at=now)
                )
            else:
                failed = (row["failed_logins"] or 0) + 1
                locked = now + LOCK_SECONDS if failed >= MAX_FAILED_LOGINS else None
                conn.execute(
                    users.update()
                    .where(users.c.name == name)
                    .values(
                        failed_logins=0 if locked else failed,
                        locked_until=locked,
                    )
                )
        return _user(row) if good else None

    def locked(self, name: str) -> bool:
        with self._engine.connect() as conn:
            until = conn.execute(
                sa.select(users.c.locked_until).where(users.c.name == name)
            ).scalar()
        return until is not None and until > time.time()

    def open_session(self, name: str, seconds: float) -> tuple[str, Session]:
        """A new session for a person: the cookie's token (stored only as its hash)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        with write_transaction(self._engine) as conn:
            conn.execute(console_sessions.delete().where(console_sessions.c.expires_at < now))
            conn.execute(
                console_sessions.insert().values(
                    token_hash=digest(token),
                    user_name=name,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + seconds,
                )
            )
        return token, Session(name, csrf, now + seconds)

    def session(self, token: str) -> Session | None:
        """The live session of a cookie's token, if the person may still log in."""
        if not token:
            return None
        query = (
            sa.select(console_sessions, users.c.disabled)
            .join(users, users.c.name == console_sessions.c.user_name)
            .where(console_sessions.c.token_hash == digest(token))
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None or row["disabled"] or row["expires_at"] < time.time():
            return None
        return Session(row["user_name"], row["csrf_token"], row["expires_at"])

    def close_session(self, token: str) -> None:
        with write_transaction(self._engine) as conn:
            conn.execute(
                console_sessions.delete().where(console_sessions.c.token_hash == digest(token))
            )


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
