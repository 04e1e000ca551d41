"""What several benchmarks share: a free port on the loopback interface, and the load
generator's HTTP client."""

from __future__ import annotations

import socket

import httpx

from remediator.fortnox._network import NetworkTransport


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# One connection per client (with httpcore's pool, before the connector had a transport of its
# own, one pool for 50 requests in flight cost 2.7 ms of CPU per POST where 50 pools of one
# connection cost 1.2-1.5 ms). An idle connection is let go after 2 s, well under the 5 s after
# which uvicorn closes one: a POST sent as the server closes its connection is reset.
_ONE = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=2.0)


def load_clients(bases: list[str], count: int, *, timeout: float) -> list[httpx.AsyncClient]:
    """The clients a benchmark sends its load with (the Backoffice's part), one per request in
    flight, the n-th to ``bases[n % len(bases)]``: httpx over the connector's transport,
    the cheapest client of this stack. They run on the machine being measured, so their CPU is
    taken from what is measured; each bench prints it apart."""
    tls = httpx.create_ssl_context()
    return [
        httpx.AsyncClient(
            base_url=bases[n % len(bases)],
            timeout=timeout,
            transport=NetworkTransport(limits=_ONE, verify=tls),
        )
        for n in range(count)
    ]
