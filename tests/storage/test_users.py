"""The user store and the audit log, on SQLite and PostgreSQL: Argon2 hashes, hashed session
tokens and links, the failed-login lock, decisions with the person."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from remediator.errors import UsageError
from remediator.storage import Database
from remediator.storage.audit import Actor, AuditAction, AuditStore, Via
from remediator.storage.db import console_sessions, users
from remediator.storage.users import LOCK_SECONDS, MAX_FAILED_LOGINS, UserStore
from tests.storage.meeting import adding_at_once

ME = Actor("tester", Via.CLI)


@pytest.fixture
def store(database: Database) -> UserStore:
    return UserStore(database)


def _rows(store: UserStore, table: sa.Table) -> list[dict[str, object]]:
    with store._engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(table)).mappings()]


def test_passwords_and_tokens_are_stored_only_as_hashes(store: UserStore) -> None:
    store.add("eva", "eva@example.se", ME)
    link = store.invite("eva", 60)
    store.accept_invite(link, "a long password")
    token, session = store.open_session("eva", 60)
    stored = str(_rows(store, users)) + str(_rows(store, console_sessions))
    for secret in ("a long password", link, token):
        assert secret not in stored
    assert str(_rows(store, users)[0]["password_hash"]).startswith("$argon2id$")
    assert store.session(token) == session
    assert store.invited(link) is None  # used once


def test_an_expired_link_or_session_is_refused(store: UserStore) -> None:
    store.add("eva", "eva@example.se", ME)
    link = store.invite("eva", -1)
    assert store.invited(link) is None
    with pytest.raises(UsageError, match="not valid"):
        store.accept_invite(link, "a long password")
    token, _ = store.open_session("eva", -1)
    assert store.session(token) is None


def test_the_lock_after_failed_logins_expires(store: UserStore) -> None:
    store.add("eva", "eva@example.se", ME)
    store.set_password("eva", "a long password", ME)
    for _ in range(MAX_FAILED_LOGINS):
        assert store.login("eva", "wrong") is None
    assert store.login("eva", "a long password") is None
    with store._engine.begin() as conn:
        conn.execute(users.update().values(locked_until=time.time() - 1))
    assert store.login("eva", "a long password") is not None
    assert LOCK_SECONDS >= 60


def test_a_new_password_ends_every_session(store: UserStore) -> None:
    store.add("eva", "eva@example.se", ME)
    store.set_password("eva", "a long password", ME)
    token, _ = store.open_session("eva", 60)
    store.set_password("eva", "another long one", ME)
    assert store.session(token) is None
    assert store.login("eva", "a long password") is None


def test_decisions_are_read_back_by_run_connection_and_time(database: Database) -> None:
    audit = AuditStore(database)
    audit.record(ME, AuditAction.POLICY, connection_id="c1", detail="set_manual: auto → review")
    audit.record(Actor("eva", Via.CONSOLE), AuditAction.REJECT, run_id="r1", detail="not now")
    assert [(e.actor, e.via, e.action) for e in audit.for_run("r1")] == [
        ("eva", "console", "reject")
    ]
    assert [e.detail for e in audit.for_connection("c1")] == ["set_manual: auto → review"]
    assert [e.action for e in audit.recent()] == ["reject", "policy"]


def test_two_adding_one_name_at_once_add_it_once(database: Database) -> None:
    """Both looked for the name and found none: the second is told it exists (on PostgreSQL
    it was the unique key's IntegrityError, which the service answers as an outage)."""
    add = lambda db: UserStore(db).add("eva", "eva@example.se", ME)  # noqa: E731
    said = adding_at_once(database.url, "users", [add, add])
    assert said == ["added", "user 'eva' already exists"]
    assert [row["name"] for row in _rows(UserStore(database), users)] == ["eva"]
