"""The web console for support staff, served by ``remediator serve`` at ``/console``.

Server-rendered pages (Jinja2 templates, plain forms, one small script for the copy buttons),
every asset served by the service itself. See docs/console.md."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from remediator.console import auth, restaurants, runs, tryit
from remediator.console.web import HERE, PREFIX


def mount_console(app: FastAPI) -> None:
    """Add the console's pages, its static files and its error pages to ``app``."""
    for router in (auth.router, runs.router, tryit.router, restaurants.router):
        app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_exception_handler(auth.LoginRequired, auth.login_required)
    app.add_exception_handler(auth.CsrfRefused, auth.csrf_refused)


__all__ = ["mount_console"]
