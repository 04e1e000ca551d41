"""``remediator sandbox``: run the local Fortnox as a real HTTP server."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import uvicorn

from remediator.errors import UsageError
from remediator.sandbox import Sandbox, load_scenario, scenario_names
from remediator.sandbox.faults import Dropped
from remediator.sandbox.state import load_state

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _quiet_injected_faults(record: logging.LogRecord) -> bool:
    """A connection the sandbox drops on purpose is not a server error worth a traceback."""
    return not (record.exc_info and isinstance(record.exc_info[1], Dropped))


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
    state = load_state(state_file) if state_file is not None else load_scenario(scenario or "")
    running = Sandbox(state, admin=not no_admin, served=True)
    logging.getLogger("uvicorn.error").addFilter(_quiet_injected_faults)
    base = f"http://{host}:{port}"
    where = "loopback only" if host in LOOPBACK else "reachable from other machines"
    click.echo(f"sandbox listening on {base} ({where})")
    click.echo(f"  REMEDIATOR_FORTNOX_API_URL={base}/3")
    click.echo(f"  REMEDIATOR_FORTNOX_OAUTH_URL={base}/oauth-v1")
    client = state.clients[0]
    click.echo(f"  REMEDIATOR_CLIENT_ID={client.client_id}")
    click.echo(f"  REMEDIATOR_CLIENT_SECRET={client.client_secret}  (a sandbox secret)")
    if not no_admin:
        click.echo(f"  admin: {base}/_sandbox/ (state, requests, reset, faults, grants, clock)")
    uvicorn.run(running.app, host=host, port=port, log_level="warning")
