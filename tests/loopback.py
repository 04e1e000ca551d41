"""What the tests that start real servers share: a free loopback port, waiting until a server
listens on it, and stopping it."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_listening(
    process: subprocess.Popen[Any],
    port: int,
    seconds: float,
    why: Callable[[], str] | None = None,
) -> None:
    """Return once ``port`` accepts connections; fail if ``process`` exits or time runs out.
    ``why()`` is shown when the process exits first (e.g. its log)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(why() if why else f"{process.args!r} exited before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    process.kill()
    pytest.fail(f"{process.args!r} did not listen on port {port} within {seconds} s")


def stop(process: subprocess.Popen[Any]) -> None:
    """Terminate ``process``, killing it when it does not end within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
