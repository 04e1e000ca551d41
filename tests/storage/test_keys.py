"""The database's token key, checked without storing it (``remediator.storage.keys``): on both
dialects, a process with another key refuses before it writes a token."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr

from remediator.errors import StorageError
from remediator.fortnox import TokenSet
from remediator.storage import ConnectionStore, Database, TokenCipher
from remediator.storage.db import connections, is_sqlite, key_checks
from remediator.storage.keys import KeyCheck
from tests.conftest import connection
from tests.storage.meeting import meeting_at_insert


@pytest.fixture
def elsewhere(database: Database) -> Iterator[Callable[[], Database]]:
    """Opens the test's database again, as another process would (closed after the test)."""
    opened: list[Database] = []

    def open_again() -> Database:
        opened.append(Database(database.url))
        return opened[-1]

    yield open_again
    for other in opened:
        other.dispose()


def store_of(database: Database, key: bytes | None = None) -> ConnectionStore:
    return ConnectionStore(database, TokenCipher(key or Fernet.generate_key()))


def recorded(database: Database) -> list[str]:
    with database.engine.connect() as conn:
        return list(conn.execute(sa.select(key_checks.c.value)).scalars())


def tokens(access: str) -> TokenSet:
    return TokenSet(
        access_token=SecretStr(access), refresh_token=SecretStr("r"), expires_at=time.time() + 3600
    )


def test_the_first_key_is_recorded_as_a_check_value_and_another_is_refused(
    database: Database, elsewhere: Callable[[], Database]
) -> None:
    key = Fernet.generate_key()
    first = store_of(database, key)
    first.add(connection("a"))
    assert len(recorded(database)) == 1
    assert key.decode() not in recorded(database)[0]  # an HMAC of a label, not the key
    other = store_of(elsewhere())
    assert other.key_fits() is False
    with pytest.raises(StorageError, match="does not decrypt the stored tokens"):
        other.add(connection("b"))
    with pytest.raises(StorageError, match="does not decrypt the stored tokens"):
        other.save_tokens("a", tokens("written-with-the-wrong-key"))
    assert first.get("a").access_token == SecretStr("access-token-old")  # nothing written
    assert [c.id for c in first.all()] == ["a"]
    assert store_of(elsewhere(), key).key_fits() is True  # the same key, elsewhere


def test_a_database_from_before_the_check_adopts_the_key_of_its_last_token(
    database: Database, elsewhere: Callable[[], Database]
) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    store_of(database, old).add(connection("a"))
    with database.engine.begin() as conn:  # as a database from before revision 0010
        conn.execute(key_checks.delete())
    assert store_of(elsewhere(), new).key_fits() is False
    assert recorded(database) == []  # a key that cannot read the tokens is not adopted
    assert store_of(elsewhere(), old).key_fits() is True
    assert len(recorded(database)) == 1


def test_two_processes_with_two_keys_on_a_new_database_one_fits(
    database: Database, elsewhere: Callable[[], Database]
) -> None:
    stores = [store_of(elsewhere()) for _ in range(2)]
    checks: list[bool] = []
    engines = [s._db.engine for s in stores]
    with meeting_at_insert(engines, 1.0 if is_sqlite(database.engine) else 10.0, "key_checks"):
        threads = [threading.Thread(target=lambda s=s: checks.append(s.key_fits())) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(checks) == [False, True]
    assert len(recorded(database)) == 1


def test_a_fit_is_remembered_and_a_misfit_is_asked_again(database: Database) -> None:
    key = Fernet.generate_key()
    check = KeyCheck(database, TokenCipher(key))
    assert check.fits()
    with database.engine.begin() as conn:  # the record cannot change under a running process
        conn.execute(key_checks.update().values(value="0" * 64))
        conn.execute(connections.delete())
    assert check.fits()  # remembered
    assert not KeyCheck(database, TokenCipher(key)).fits()


def test_adopting_a_key_removes_only_the_tokens_it_cannot_read(
    database: Database, elsewhere: Callable[[], Database]
) -> None:
    lost, new = Fernet.generate_key(), Fernet.generate_key()
    store_of(database, lost).add(connection("old"))
    with database.engine.begin() as conn:  # as if "new" were written later, with the new key
        conn.execute(key_checks.delete())
    newer = store_of(elsewhere(), new)
    adopting = KeyCheck(newer._db, TokenCipher(new))
    assert adopting.unreadable() == ["old"]
    assert not newer.key_fits()
    assert adopting.adopt() == ["old"]
    assert newer.key_fits()  # a new store on the same process's key
    newer.add(connection("new"))
    assert adopting.unreadable() == []
    forgotten = newer.get("old")
    assert (forgotten.access_token, forgotten.refresh_token) == (None, None)
    assert forgotten.status.value == "needs_reconnect"
    assert newer.get("new").refresh_token == SecretStr("refresh-token-1")
    assert store_of(elsewhere(), lost).key_fits() is False


def test_a_process_that_kept_a_key_another_one_replaced_writes_no_token_with_it(
    database: Database, elsewhere: Callable[[], Database]
) -> None:
    """``db adopt-key`` run while a process with the old key is still up: that process's fit
    was remembered, yet its next token write is refused, before anything is written."""
    old, new = Fernet.generate_key(), Fernet.generate_key()
    running = store_of(database, old)
    running.add(connection("a"))
    assert running.key_fits()
    adopting = store_of(elsewhere(), new)
    assert KeyCheck(adopting._db, TokenCipher(new)).adopt() == ["a"]
    with pytest.raises(StorageError, match="does not decrypt the stored tokens"):
        running.save_tokens("a", tokens("written-with-the-old-key"))
    with pytest.raises(StorageError, match="does not decrypt the stored tokens"):
        running.add(connection("b"))
    adopting.add(connection("c"))  # the new key writes
    assert KeyCheck(adopting._db, TokenCipher(new)).unreadable() == []  # nothing old written
