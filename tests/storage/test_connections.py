"""The connection store, on both dialects: encryption at rest, the key file, the refresh lease."""

from __future__ import annotations

import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr

from remediator.errors import (
    ConfigError,
    RefreshTokenOwned,
    StorageError,
    UnknownConnectionError,
    UsageError,
)
from remediator.policy import Policy, Rule
from remediator.storage import (
    Connection,
    ConnectionStatus,
    ConnectionStore,
    Database,
    ReconnectCause,
    TokenCipher,
    TokenSet,
    load_cipher,
    migrations,
)
from remediator.storage.audit import Actor, AuditAction, AuditStore, Via, audit_row
from remediator.storage.connections import ConnectionChanges
from remediator.storage.db import connections, is_sqlite, write_transaction
from tests.conftest import connection
from tests.storage.meeting import adding_at_once


def test_tokens_are_encrypted_at_rest(store: ConnectionStore, tmp_path: Path) -> None:
    store.add(connection(access="plain-access-token", refresh="plain-refresh-token"))
    with store._db.engine.connect() as conn:
        raw = conn.execute(sa.select(connections.c.access_token, connections.c.refresh_token)).one()
    assert "plain-access-token" not in raw[0]
    assert "plain-refresh-token" not in raw[1]
    if is_sqlite(store._db.engine):
        path = tmp_path / "remediator.db"
        dump = path.read_bytes() + path.with_name("remediator.db-wal").read_bytes()
        assert b"plain-refresh-token" not in dump
    assert store.get("rest-1").refresh_token == SecretStr("plain-refresh-token")


def test_a_wrong_key_is_a_clear_storage_error(store: ConnectionStore, database_url: str) -> None:
    store.add(connection())
    other = ConnectionStore(
        Database(database_url),
        load_cipher(SecretStr(Fernet.generate_key().decode()), Path("x")),
    )
    with pytest.raises(StorageError, match="cannot be decrypted"):
        other.get("rest-1")
    assert (store.key_fits(), other.key_fits()) == (True, False)
    other._db.dispose()


def test_an_invalid_key_is_a_config_error_that_does_not_echo_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_cipher(SecretStr("not-a-key-at-all"), Path("x"))
    assert "not-a-key-at-all" not in str(caught.value)


def test_without_a_key_a_key_file_is_made_once_with_mode_0600(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / "keys" / "remediator.key"
    first = load_cipher(SecretStr(""), key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in caplog.text
    assert key_file.read_text() not in caplog.text
    second = load_cipher(SecretStr(""), key_file)
    assert second.decrypt(first.encrypt(SecretStr("x"))) == SecretStr("x")


def test_reopening_keeps_data(store: ConnectionStore, database_url: str) -> None:
    store.add(connection())
    reopened = Database(database_url)
    assert reopened.revision() == migrations.head()
    assert ConnectionStore(reopened, store._cipher).get("rest-1").label == "Restaurant rest-1"
    reopened.dispose()


def test_add_get_list_remove(store: ConnectionStore) -> None:
    store.add(connection("b"))
    store.add(connection("a", tenant="222"))
    assert [c.id for c in store.all()] == ["a", "b"]
    assert [c.id for c in store.with_tenant("111111")] == ["b"]
    with pytest.raises(UsageError, match="already exists"):
        store.add(connection("a"))
    store.remove("a")
    with pytest.raises(UnknownConnectionError, match="unknown connection 'a'"):
        store.get("a")
    with pytest.raises(UnknownConnectionError):
        store.remove("a")


def test_save_tokens_reactivates_and_records_tenant_and_scopes(store: ConnectionStore) -> None:
    store.add(connection(tenant=None))
    store.mark_needs_reconnect("rest-1", "invalid_grant")
    assert store.get("rest-1").status is ConnectionStatus.NEEDS_RECONNECT
    saved = store.save_tokens(
        "rest-1",
        TokenSet(
            access_token=SecretStr("a2"),
            expires_at=time.time() + 3600,
            refresh_token=SecretStr("r2"),
            scopes=("bookkeeping",),
            tenant_id="999",
        ),
    )
    assert (saved.status, saved.status_reason, saved.tenant_id, saved.scopes) == (
        ConnectionStatus.ACTIVE,
        None,
        "999",
        ("bookkeeping",),
    )


def test_refresh_lease_is_exclusive_until_released_or_expired(store: ConnectionStore) -> None:
    store.add(connection())
    assert store.try_lock("rest-1", "p1", lease_seconds=30)
    assert not store.try_lock("rest-1", "p2", lease_seconds=30)
    store.unlock("rest-1", "p2")  # not the owner: nothing happens
    assert not store.try_lock("rest-1", "p2", lease_seconds=30)
    store.unlock("rest-1", "p1")
    assert store.try_lock("rest-1", "p2", lease_seconds=0.01)
    time.sleep(0.02)
    assert store.try_lock("rest-1", "p3", lease_seconds=30)


def test_refresh_mark_and_rotated_tokens_are_written_only_by_the_lock_owner(
    store: ConnectionStore,
) -> None:
    store.add(connection())
    rotated = TokenSet(
        access_token=SecretStr("access-2"),
        expires_at=time.time() + 3600,
        refresh_token=SecretStr("refresh-2"),
    )
    assert not store.mark_refreshing("rest-1", "p1", lease_seconds=30)  # nobody holds it
    assert store.try_lock("rest-1", "p1", lease_seconds=30)
    assert store.mark_refreshing("rest-1", "p1", lease_seconds=30)
    assert store.get("rest-1").refresh_started_at is not None
    assert store.store_refreshed("rest-1", "p2", rotated) is None  # not the owner
    assert store.get("rest-1").refresh_token == SecretStr("refresh-token-1")
    saved = store.store_refreshed("rest-1", "p1", rotated)
    assert saved is not None
    assert (saved.refresh_token, saved.refresh_started_at) == (SecretStr("refresh-2"), None)


def test_the_lock_is_taken_with_the_connection_as_stored_and_let_go_with_the_rotated_tokens(
    store: ConnectionStore,
) -> None:
    store.add(connection())
    held = store.try_lock("rest-1", "p1", lease_seconds=30)
    assert held is not None
    assert (held.id, held.refresh_token) == ("rest-1", SecretStr("refresh-token-1"))
    assert store.try_lock("rest-1", "p2", lease_seconds=30) is None
    rotated = TokenSet(
        access_token=SecretStr("access-2"),
        expires_at=time.time() + 3600,
        refresh_token=SecretStr("refresh-2"),
    )
    saved = store.store_refreshed("rest-1", "p1", rotated)
    assert saved is not None
    assert store.recent("rest-1", 60) == saved  # what the write read back is kept
    assert store.try_lock("rest-1", "p2", lease_seconds=30) is not None  # the store let it go


def test_a_needed_reconnect_keeps_its_cause_and_a_new_consent_clears_it(
    store: ConnectionStore,
) -> None:
    store.add(connection())
    assert store.try_lock("rest-1", "p1", lease_seconds=30)
    assert store.mark_refreshing("rest-1", "p1", lease_seconds=30)
    store.mark_needs_reconnect("rest-1", "lost", ReconnectCause.LOST)
    dead = store.get("rest-1")
    assert (dead.status, dead.status_cause, dead.refresh_started_at) == (
        ConnectionStatus.NEEDS_RECONNECT,
        ReconnectCause.LOST,
        None,
    )
    store.save_tokens(
        "rest-1",
        TokenSet(
            access_token=SecretStr("a"), expires_at=time.time() + 60, refresh_token=SecretStr("r")
        ),
    )
    alive = store.get("rest-1")
    assert (alive.status, alive.status_cause, alive.status_reason) == (
        ConnectionStatus.ACTIVE,
        None,
        None,
    )


def test_recent_is_the_last_read_and_a_write_through_the_store_forgets_it(
    store: ConnectionStore,
) -> None:
    assert store.recent("rest-1", max_age=60) is None
    store.add(connection())
    assert store.recent("rest-1", max_age=60) == store.get("rest-1")
    assert store.recent("rest-1", max_age=0) is None  # older than asked for
    store.mark_needs_reconnect("rest-1", "invalid_grant")
    assert store.recent("rest-1", max_age=60) is None
    assert store.get("rest-1").status is ConnectionStatus.NEEDS_RECONNECT
    assert store.recent("rest-1", max_age=60) == store.get("rest-1")
    store.remove("rest-1")
    assert store.recent("rest-1", max_age=60) is None


def test_only_writes_marked_not_durable_skip_the_sync_to_disk(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'sync.db'}")
    full, normal = 2, 1  # PRAGMA synchronous
    with write_transaction(database.engine, durable=False) as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == normal
    with write_transaction(database.engine) as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == full
    with write_transaction(database.engine, durable=False) as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == normal
    with database.engine.begin() as conn:  # any other transaction is synced
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == full


def test_put_creates_and_changes_in_one_transaction_or_not_at_all(
    store: ConnectionStore,
) -> None:
    new = Connection(id="p", label="P", client_id="x")
    changes = ConnectionChanges(
        restaurant=("r1", "Krogen"),
        policy=Policy(set_manual=Rule.NEVER),
        refresh_token=SecretStr("rt-1"),
    )
    made = store.put("p", changes, new=new)
    assert (made.label, made.restaurant_id, made.restaurant_name) == ("P", "r1", "Krogen")
    assert made.policy == Policy(set_manual=Rule.NEVER)
    assert made.refresh_token is not None
    assert made.refresh_token.get_secret_value() == "rt-1"
    again = ConnectionChanges(label="Renamed", refresh_token=SecretStr("rt-2"))
    with pytest.raises(RefreshTokenOwned, match="already has a refresh token"):
        store.put("p", again)
    with pytest.raises(UsageError, match="already exists"):
        store.put("p", ConnectionChanges(label="Other"), new=new)
    assert store.get("p") == made  # neither refusal changed anything
    with pytest.raises(UnknownConnectionError):
        store.put("nobody", ConnectionChanges(label="L"))
    assert store.put("p", ConnectionChanges(label="Renamed")).label == "Renamed"


def test_a_policy_and_its_audit_record_are_written_together(store: ConnectionStore) -> None:
    store.add(connection("bistro"))
    audit = AuditStore(store._db)
    who = Actor("anna", Via.CONSOLE)
    row = audit_row(who, AuditAction.POLICY, connection_id="bistro", detail="set_manual: review")
    store.set_policy("bistro", Policy(set_manual=Rule.REVIEW), row)
    assert store.get("bistro").policy == Policy(set_manual=Rule.REVIEW)
    assert [(r.actor, r.detail) for r in audit.for_connection("bistro")] == [
        ("anna", "set_manual: review")
    ]
    # An audit record that cannot be written leaves the policy as it was.
    broken = row | {"action": None}
    with pytest.raises(sa.exc.IntegrityError):
        store.set_policy("bistro", Policy(set_manual=Rule.NEVER), broken)
    assert store.get("bistro").policy == Policy(set_manual=Rule.REVIEW)
    # No connection, no record.
    with pytest.raises(UnknownConnectionError):
        store.set_policy(
            "nowhere", None, audit_row(who, AuditAction.POLICY, connection_id="nowhere")
        )
    assert audit.for_connection("nowhere") == []


def test_two_adding_one_connection_at_once_add_it_once(database: Database) -> None:
    """Both looked for the id and found none: the second is told it exists (on PostgreSQL
    it was the unique key's IntegrityError, which the service answered as an outage)."""
    key = Fernet.generate_key()

    def adding(label: str) -> Callable[[Database], object]:
        connection = Connection(id="c1", label=label, client_id="x")
        return lambda db: ConnectionStore(db, TokenCipher(key)).add(connection)

    said = adding_at_once(database.url, "connections", [adding("A"), adding("B")])
    assert said == ["added", "connection 'c1' already exists"]
    with database.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(connections)).scalar() == 1
