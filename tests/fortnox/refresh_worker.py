"""Run in a separate process: ask for an access token at a given moment, print it."""

from __future__ import annotations

import asyncio
import sys
import time

from pydantic import SecretStr

from remediator.fortnox import FortnoxConnector
from remediator.runtime import open_store
from remediator.settings import Settings


async def main(database_url: str, key: str, oauth_url: str, start_at: float) -> None:
    settings = Settings(
        database_url=database_url,
        secret_key=SecretStr(key),
        fortnox_oauth_url=oauth_url,
        client_id="client-1",
        client_secret=SecretStr("client-secret-value"),
    )
    store = open_store(settings)
    async with FortnoxConnector(settings, store) as connector:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        tokens = connector.tokens("rest-1")
        results = await asyncio.gather(*(tokens.access_token() for _ in range(10)))
    print("\n".join(sorted({token.get_secret_value() for token in results})))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
