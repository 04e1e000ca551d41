"""Serving an ASGI app from a command: bind first, so a port in use is one line and exit 2
before anything is printed as if it worked."""

from __future__ import annotations

import errno
import socket
from typing import Any

import uvicorn

from remediator.errors import UsageError


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or ``UsageError`` naming what is wrong."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on {host} is in use (another server?): choose another with --port"
            ) from None
        if err.errno in {errno.EACCES, errno.EPERM}:
            raise UsageError(
                f"not allowed to listen on port {port}: choose one above 1023"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    except (socket.gaierror, OverflowError) as err:
        raise UsageError(f"cannot listen on {host}:{port}: {err}") from None


def run(app: Any, listening: socket.socket, **config: Any) -> None:
    """Serve ``app`` on the bound socket until interrupted."""
    server = uvicorn.Server(uvicorn.Config(app, **config))
    server.run(sockets=[listening])
