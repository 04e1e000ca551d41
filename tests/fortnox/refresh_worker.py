"""Run in a separate process: ask for access tokens for connection ``rest-1`` at a given moment
and print what came of it, one line per distinct result.

    python -m tests.fortnox.refresh_worker DATABASE_URL KEY OAUTH_URL CLIENT_ID CLIENT_SECRET
        START_AT [crash]

``crash``: the process dies (``os._exit``) when it is about to store a rotated token, after
Fortnox rotated it: the crash between rotation and store that loses a refresh token.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import NoReturn

from pydantic import SecretStr

from remediator.fortnox import ConsentRequired, FortnoxConnector, TokenSet
from remediator.runtime import open_store
from remediator.settings import Settings

CRASH_EXIT = 9
LEASE_SECONDS = 1.0  # a dead process's refresh lock is taken over after this


def _crash_before_storing(connection_id: str, owner: str, tokens: TokenSet) -> NoReturn:
    del connection_id, owner, tokens  # the rotated tokens die with the process
    os._exit(CRASH_EXIT)


async def main(argv: list[str]) -> None:
    database_url, key, oauth_url, client_id, client_secret, start_at = argv[:6]
    settings = Settings(
        database_url=database_url,
        secret_key=SecretStr(key),
        fortnox_oauth_url=oauth_url,
        client_id=client_id,
        client_secret=SecretStr(client_secret),
        refresh_lock_seconds=LEASE_SECONDS,
    )
    store = open_store(settings)
    if argv[6:] == ["crash"]:
        store.store_refreshed = _crash_before_storing  # type: ignore[method-assign]
    async with FortnoxConnector(settings, store) as connector:
        await asyncio.sleep(max(0.0, float(start_at) - time.time()))
        tokens = connector.tokens("rest-1")
        results = await asyncio.gather(
            *(tokens.access_token() for _ in range(10)), return_exceptions=True
        )
    print("\n".join(sorted({_shown(result) for result in results})))


def _shown(result: SecretStr | BaseException) -> str:
    if isinstance(result, ConsentRequired):
        return f"consent_required:{result.cause}"
    if isinstance(result, BaseException):
        return f"error:{type(result).__name__}"
    return result.get_secret_value()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
