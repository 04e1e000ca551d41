"""``remediator sandbox``: run the local Fortnox as a real HTTP server."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

import click

from remediator.cli.listen import bind, run
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
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535))
@click.option("--no-admin", is_flag=True, help="Do not serve the /_sandbox/ admin endpoints.")
def sandbox(
    state_file: Path | None, scenario: str | None, host: str, port: int, no_admin: bool
) -> None:
    """Run the sandbox (a local, stateful Fortnox) on HOST:PORT."""
    if (state_file is None) == (scenario is None):
        raise UsageError("give exactly one of --state FILE or --scenario NAME")
    state = load_state(state_file) if state_file is not None else load_scenario(scenario or "")
    running = Sandbox(state, admin=not no_admin, served=True)
    listening = bind(host, port)
    logging.getLogger("uvicorn.error").addFilter(_quiet_injected_faults)
    base = f"http://{host}:{port}"
    where = "loopback only" if host in LOOPBACK else "reachable from other machines"
    click.echo(f"sandbox listening on {base} ({where})")
    client = state.clients[0]
    click.echo(
        "Point the remediator at it (the client secret is the sandbox's own, not a real one):"
    )
    for name, value in (
        ("REMEDIATOR_FORTNOX_API_URL", f"{base}/3"),
        ("REMEDIATOR_FORTNOX_OAUTH_URL", f"{base}/oauth-v1"),
        ("REMEDIATOR_CLIENT_ID", client.client_id),
        ("REMEDIATOR_CLIENT_SECRET", client.client_secret),
    ):
        click.echo(f"  export {name}={shlex.quote(value)}")
    if not no_admin:
        click.echo(f"admin: {base}/_sandbox/ (state, requests, reset, faults, grants, clock)")
    run(running.app, listening, log_level="warning")
