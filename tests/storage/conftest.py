"""Storage tests run on both dialects: ``store`` here is on ``database_url``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from remediator.runtime import open_store
from remediator.settings import Settings
from remediator.storage import ConnectionStore


@pytest.fixture
def store(settings: Settings, database_url: str) -> Iterator[ConnectionStore]:
    opened = open_store(settings.model_copy(update={"database_url": database_url}))
    yield opened
    opened._db.dispose()
