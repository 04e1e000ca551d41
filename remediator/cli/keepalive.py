"""``remediator keepalive``: one keep-alive pass over every connection (docs/ahead.md)."""

from __future__ import annotations

import asyncio

import click

from remediator.backoffice import BackofficeNotifier
from remediator.cli.output import echo_json
from remediator.keepalive import KeepAlive, Kept, KeptAlive, tally
from remediator.runtime import open_runtime


async def _pass() -> list[KeptAlive]:
    runtime = open_runtime()
    notifier = BackofficeNotifier(runtime.settings)
    try:
        job = KeepAlive(
            runtime.connector,
            store=runtime.store,
            links=runtime.engine.links,
            notifier=notifier,
            settings=runtime.settings,
        )
        return await job.run()
    finally:
        await notifier.aclose()
        await runtime.aclose()


@click.command("keepalive")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def keepalive(as_json: bool) -> None:
    """Refresh connections whose refresh token is getting old and probe the others; exit 3
    when one needs reconnecting, 4 when one could not be checked."""
    results = asyncio.run(_pass())
    if as_json:
        echo_json([{"connection_id": r.connection_id, "result": r.result.value} for r in results])
    else:
        for r in results:
            click.echo(f"{r.connection_id}: {r.result.value}")
        click.echo(tally(results))
    found = {r.result for r in results}
    if Kept.NEEDS_RECONNECT in found:
        raise SystemExit(3)
    if Kept.FAILED in found:
        raise SystemExit(4)
