"""What every door (CLI, service, demo) needs to run: settings, the store, the connector."""

from __future__ import annotations

import httpx

from remediator.fortnox import FortnoxConnector, RequestHook
from remediator.fortnox._events import no_hook
from remediator.settings import Settings, load_settings
from remediator.storage import ConnectionStore, Database, load_cipher


def open_store(settings: Settings | None = None) -> ConnectionStore:
    settings = settings or load_settings()
    database = Database(settings.database_url)
    return ConnectionStore(database, load_cipher(settings.secret_key, settings.key_file))


def open_connector(
    settings: Settings,
    store: ConnectionStore,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    hook: RequestHook = no_hook,
) -> FortnoxConnector:
    return FortnoxConnector(settings, store, transport=transport, hook=hook)
