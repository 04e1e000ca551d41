"""``remediator sandbox``: run the local Fortnox as a real HTTP server."""

from __future__ import annotations

from pathlib import Path

import click
import uvicorn

from remediator.errors import UsageError
from remediator.sandbox import Sandbox, scenario_names


@click.command()
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path),
    help="A sandbox state file (see docs/sandbox.md).",
)
@click.option("--scenario", help=f"A shipped scenario: {', '.join(scenario_names())}.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; loopback unless you mean otherwise.",
)
@click.option("--port", default=8787, show_default=True, type=int)
@click.option("--no-admin", is_flag=True, help="Do not serve the /_sandbox/ admin endpoints.")
def sandbox(
    state_file: Path | None, scenario: str | None, host: str, port: int, no_admin: bool
) -> None:
    """Run the sandbox (a local, stateful Fortnox) on HOST:PORT."""
    if (state_file is None) == (scenario is None):
        raise UsageError("give exactly one of --state FILE or --scenario NAME")
    running = (
        Sandbox.from_file(state_file)
        if state_file is not None
        else Sandbox.from_scenario(scenario or "")
    )
    running = Sandbox(running.world.state, admin=not no_admin)
    base = f"http://{host}:{port}"
    where = (
        "loopback only" if host in ("127.0.0.1", "localhost", "::1") else "ALL listed interfaces"
    )
    click.echo(f"sandbox listening on {base} ({where})")
    click.echo(f"  REMEDIATOR_FORTNOX_API_URL={base}/3")
    click.echo(f"  REMEDIATOR_FORTNOX_OAUTH_URL={base}/oauth-v1")
    if not no_admin:
        click.echo(f"  admin: {base}/_sandbox/state, /_sandbox/requests")
    uvicorn.run(running.app, host=host, port=port, log_level="warning")
