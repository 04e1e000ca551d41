"""``serve`` and ``sandbox`` on a port in use: one line, exit 2, nothing printed as if it
worked (the port is bound before anything is said)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.cli.conftest import run


@pytest.fixture
def taken() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield int(sock.getsockname()[1])


def test_sandbox_on_a_port_in_use(taken: int) -> None:
    result = run("sandbox", "--scenario", "healthy", "--port", str(taken))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: port {taken} on 127.0.0.1 is in use (another server?): "
        "choose another with --port\n"
    )


@pytest.mark.usefixtures("env")
def test_serve_on_a_port_in_use(taken: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_INTAKE_SECRET", "i")
    monkeypatch.setenv("REMEDIATOR_API_TOKEN", "t")
    result = run("serve", "--port", str(taken))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        f"error: port {taken} on 127.0.0.1 is in use (another server?): choose another with --port"
    ]


def test_a_port_out_of_range_is_a_usage_error() -> None:
    result = run("sandbox", "--scenario", "healthy", "--port", "70000")
    assert result.exit_code == 2
    assert "70000 is not in the range 0<=x<=65535" in result.stderr
