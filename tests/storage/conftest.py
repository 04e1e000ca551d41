"""Storage tests run on both dialects: ``store`` here is on ``database_url``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from remediator.runtime import open_store
from remediator.settings import Settings
from remediator.storage import ConnectionStore
from remediator.storage.leases import LeaseStore


@pytest.fixture
def store(settings: Settings, database_url: str) -> Iterator[ConnectionStore]:
    opened = open_store(settings.model_copy(update={"database_url": database_url}))
    yield opened
    opened._db.dispose()


def wait_expired(leases: LeaseStore, key: str) -> None:
    """Wait until the lease on ``key`` has expired by the database's clock (what expiry is
    measured with): a test gives a lease enough time to hold for what it checks first, then
    waits for this instead of sleeping a guess."""
    row = leases.holder(key)
    assert row is not None
    while leases.now() <= row.expires_at:
        time.sleep(0.02)
