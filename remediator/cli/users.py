"""``remediator users``: the people who may use the web console (``/console``)."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from urllib.parse import urlencode

import click

from remediator.cli.output import echo_json, json_option
from remediator.settings import Settings, load_settings
from remediator.storage import Database
from remediator.storage.audit import Actor, Via
from remediator.storage.users import User, UserStore, check_password


def _store() -> tuple[UserStore, Settings]:
    settings = load_settings()
    return UserStore(Database(settings.database_url)), settings


def _me() -> Actor:
    """Who runs the command: the operating system's user name."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Actor(name, Via.CLI)


def _link(store: UserStore, settings: Settings, name: str) -> None:
    hours = settings.console_link_hours
    token = store.invite(name, hours * 3600)
    url = f"{settings.public_url.rstrip('/')}/console/welcome?{urlencode({'token': token})}"
    click.echo(f"Send this one-time link to {name} (valid {hours:g} hours, once):")
    click.echo(url)


@click.group()
def users() -> None:
    """Accounts for the web console: add, link, disable, enable, remove, list."""


@users.command("add")
@click.argument("name")
@click.option("--email", required=True, help="The person's email address.")
@click.option(
    "--password",
    "ask",
    is_flag=True,
    help="Ask for the password now instead of printing a one-time link.",
)
def add(name: str, email: str, ask: bool) -> None:
    """Add a person: prints a one-time link to choose a password (or asks for one)."""
    store, settings = _store()
    if ask:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        check_password(password)
        store.add(name, email, _me())
        store.set_password(name, password, _me())
        click.echo(f"{name} can log in at {settings.public_url.rstrip('/')}/console/login")
        return
    store.add(name, email, _me())
    _link(store, settings, name)


@users.command("link")
@click.argument("name")
def link(name: str) -> None:
    """A new one-time link for NAME to choose a password (a forgotten one, say)."""
    store, settings = _store()
    store.get(name)
    _link(store, settings, name)


@users.command("disable")
@click.argument("name")
def disable(name: str) -> None:
    """NAME can no longer log in; their sessions end now."""
    store, _ = _store()
    store.set_disabled(name, _me(), disabled=True)
    click.echo(f"{name} is disabled")


@users.command("enable")
@click.argument("name")
def enable(name: str) -> None:
    """NAME may log in again."""
    store, _ = _store()
    store.set_disabled(name, _me(), disabled=False)
    click.echo(f"{name} is enabled")


@users.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove(name: str, yes: bool) -> None:
    """Remove NAME's account (their decisions stay in the audit log)."""
    store, _ = _store()
    store.get(name)
    if not yes and sys.stdin.isatty():
        click.confirm(f"Remove {name}?", abort=True)
    store.remove(name, _me())
    click.echo(f"{name} is removed")


def _local(value: float | None) -> str:
    if value is None:
        return "-"
    return datetime.fromtimestamp(value, tz=UTC).astimezone().isoformat(timespec="seconds")


def _state(user: User) -> str:
    if user.disabled:
        return "disabled"
    return "active" if user.has_password else "invited"


@users.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Every account, with its state and last login."""
    store, _ = _store()
    people = store.all()
    if as_json:
        echo_json(
            [
                {
                    "name": u.name,
                    "email": u.email,
                    "state": _state(u),
                    "last_login_at": _local(u.last_login_at) if u.last_login_at else None,
                    "created_at": _local(u.created_at),
                }
                for u in people
            ]
        )
        return
    if not people:
        click.echo("no users yet: remediator users add NAME --email E")
        return
    rows = [("NAME", "EMAIL", "STATE", "LAST LOGIN")]
    rows += [(u.name, u.email, _state(u), _local(u.last_login_at)) for u in people]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
