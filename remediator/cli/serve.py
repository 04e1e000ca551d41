"""``remediator serve``: the HTTP service the Backoffice calls (FastAPI on uvicorn)."""

from __future__ import annotations

import logging

import click

from remediator import collector
from remediator.cli.listen import bind, run
from remediator.errors import ConfigError
from remediator.service import create_app
from remediator.service.logs import configure
from remediator.settings import Settings, load_settings


def check_service_settings(settings: Settings) -> None:
    """The service refuses to start without the secrets that guard it."""
    missing = [
        f"REMEDIATOR_{name.upper()}"
        for name in ("intake_secret", "api_token")
        if not getattr(settings, name).get_secret_value()
    ]
    if missing:
        raise ConfigError(f"the service needs {' and '.join(missing)} to be set")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def serve(host: str, port: int, log_level: str) -> None:
    """Run the service: signed intake, queue and workers, reconnect flow, metrics."""
    settings = load_settings()
    check_service_settings(settings)
    listening = bind(host, port)
    configure(getattr(logging, log_level.upper()))
    collector.pace()
    app = create_app(settings)
    click.echo(f"remediator service on http://{host}:{port} (OpenAPI page: /docs)", err=True)
    run(app, listening, log_config=None, access_log=False, log_level=log_level)
