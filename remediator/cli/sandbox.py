"""``remediator sandbox``: run the local Fortnox as a real HTTP server."""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
from datetime import date
from pathlib import Path

import click

from remediator.cli import remediate
from remediator.cli.listen import bind, run
from remediator.cli.output import quiet_logs, working
from remediator.demo import SCENARIOS, example_failure
from remediator.errors import UsageError
from remediator.runtime import Runtime
from remediator.sandbox import Sandbox, load_scenario, scenario_names
from remediator.sandbox.capture import GRANT, Books, read_books, to_state
from remediator.sandbox.faults import Dropped
from remediator.sandbox.state import load_state, parse_state

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _quiet_injected_faults(record: logging.LogRecord) -> bool:
    """A connection the sandbox drops on purpose is not a server error worth a traceback."""
    return not (record.exc_info and isinstance(record.exc_info[1], Dropped))


@click.group(invoke_without_command=True)
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
@click.pass_context
def sandbox(  # noqa: PLR0917 - click passes options by name
    ctx: click.Context,
    state_file: Path | None,
    scenario: str | None,
    host: str,
    port: int,
    no_admin: bool,
) -> None:
    """Run the sandbox (a local, stateful Fortnox) on HOST:PORT; or capture a company."""
    if ctx.invoked_subcommand is not None:
        return
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


@sandbox.command("capture")
@click.option("--connection", "connection_id", required=True, help="The company's connection.")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The state file to write."
)
def capture(connection_id: str, out: Path) -> None:
    """Copy a company's setup from Fortnox into a sandbox state file (reads only).

    Financial years, voucher series, chart of accounts, locked period and the company's name;
    no vouchers and no other data about people or the company. Start it with
    `remediator sandbox --state FILE`.
    """

    async def read(runtime: Runtime) -> Books:
        connection = runtime.store.get(connection_id)
        client = runtime.connector.client(connection, read_only=True)
        with working(f"Reading {connection_id}'s setup from Fortnox…"):
            return await read_books(client, connection.tenant_id)

    books = remediate.with_runtime(read)
    state = to_state(books, today=date.today())  # noqa: DTZ011 - the sandbox's local today
    text = json.dumps(state.model_dump(mode="json", by_alias=True, exclude_none=True), indent=2)
    parse_state(text, str(out))  # the file must load as it is written
    try:
        out.write_text(text + "\n", encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write {out}: {err.strerror}") from None
    accounts = sum(len(found) for found in books.accounts.values())
    click.echo(
        f"captured {books.company_name}: {len(books.years)} financial year(s), "
        f"{sum(len(s) for s in books.series.values())} voucher series, {accounts} accounts, "
        f"locked until {books.locked_until or '-'} → {out}"
    )
    click.echo(f"start it with: remediator sandbox --state {shlex.quote(str(out))}")
    click.echo(
        f"(the sandbox's grant {GRANT!r} stands for the restaurant's connection; "
        "connect to it with connections authorize-url / connect)"
    )


@sandbox.command("example-failure")
@click.argument("scenario")
def example_failure_command(scenario: str) -> None:
    """Print the failure the Backoffice reports in SCENARIO (as in examples/), for `plan`.

    The scenario's Z-report is posted to its sandbox in-process; Fortnox's refusal is the
    error. The connection id is the scenario's restaurant (connect it with the scenario's
    grant, see docs/sandbox.md).
    """
    if scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    with quiet_logs():
        failure = asyncio.run(example_failure(scenario))
    click.echo(
        json.dumps(
            failure.model_dump(mode="json", by_alias=True, exclude_none=True),
            indent=2,
            ensure_ascii=False,
        )
    )
