"""The connector's sockets (``_network``): real loopback servers, on asyncio's loop and uvloop's.

What the exactly-once rules build on is checked here: ``ConnectError`` only when nothing was
sent, anything after the request left is a read or protocol error.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from remediator.fortnox import FortnoxConnector
from remediator.fortnox._network import NetworkTransport
from remediator.settings import Settings
from remediator.storage import ConnectionStore

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=10, keepalive_expiry=4.0)


LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.fixture(params=list(LOOPS))
def runner(request: pytest.FixtureRequest) -> Iterator[asyncio.Runner]:
    """Each test runs on asyncio's own loop and on uvloop's (the service's, under uvicorn)."""
    with asyncio.Runner(loop_factory=LOOPS[request.param]) as loop_runner:
        yield loop_runner


@dataclass
class Server:
    port: int
    connections: list[asyncio.StreamWriter] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)


async def _request(reader: asyncio.StreamReader) -> bytes:
    """One request's body (raises ``IncompleteReadError`` when the client is gone)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
    length = head.partition("content-length:")[2].split("\r\n")[0].strip()
    return await reader.readexactly(int(length or 0))


def _answer(body: bytes, status: str = "200 OK") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


@contextlib.asynccontextmanager
async def serving(
    handle: Callable[[Server, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[Server]:
    server_state = Server(port=0)

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server_state.connections.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            await handle(server_state, reader, writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=tls)
    server_state.port = server.sockets[0].getsockname()[1]
    try:
        yield server_state
    finally:
        server.close()
        for writer in server_state.connections:
            writer.close()
        await server.wait_closed()


async def keep_answering(
    state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answer every request on the connection with its body's length, keeping it open."""
    while True:
        body = await _request(reader)
        state.bodies.append(body)
        writer.write(_answer(str(len(body)).encode()))
        await writer.drain()


def client(**timeouts: float) -> httpx.AsyncClient:
    transport = NetworkTransport(limits=LIMITS, verify=ssl.create_default_context())
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, **timeouts))


def test_requests_go_out_one_after_the_other_on_one_kept_alive_connection(
    runner: asyncio.Runner,
) -> None:
    async def scenario() -> None:
        async with serving(keep_answering) as server, client() as http:
            answers = [
                await http.post(f"http://127.0.0.1:{server.port}/x", content=b"a" * n)
                for n in (1, 20, 300)
            ]
        assert [a.text for a in answers] == ["1", "20", "300"]
        assert len(server.connections) == 1

    runner.run(scenario())


def test_a_connection_the_server_closed_while_idle_is_not_taken_again(
    runner: asyncio.Runner,
) -> None:
    """The server closing an idle connection is seen from the events already delivered: the
    next request opens a new one instead of failing on the closed one."""

    async def scenario() -> None:

        async def answer_then_close(
            state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await _request(reader)
            writer.write(_answer(b"ok"))  # no "Connection: close": the client thinks it may keep it
            await writer.drain()
            writer.close()

        async with serving(answer_then_close) as server, client() as http:
            url = f"http://127.0.0.1:{server.port}/x"
            first = await http.get(url)
            await asyncio.sleep(0.1)  # the close arrives while the connection is idle in the pool
            second = await http.get(url)
        assert (first.text, second.text) == ("ok", "ok")
        assert len(server.connections) == 2

    runner.run(scenario())


def test_nothing_listening_is_a_connect_error_never_sent(runner: asyncio.Runner) -> None:
    async def scenario() -> None:
        async with serving(keep_answering) as server:
            port = server.port
        async with client() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{port}/x")

    runner.run(scenario())


def test_a_connection_dropped_after_the_request_arrived_is_not_a_connect_error(
    runner: asyncio.Runner,
) -> None:
    """The request may have been acted on: the error must not say "never sent"."""

    async def scenario() -> None:

        async def read_then_drop(
            state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            state.bodies.append(await _request(reader))
            writer.transport.abort()

        async with serving(read_then_drop) as server, client() as http:
            with pytest.raises(httpx.TransportError) as caught:
                await http.post(f"http://127.0.0.1:{server.port}/x", content=b"voucher")
        assert isinstance(caught.value, httpx.ReadError | httpx.RemoteProtocolError)
        assert server.bodies == [b"voucher"]

    runner.run(scenario())


def test_an_answer_that_does_not_come_is_a_read_timeout(runner: asyncio.Runner) -> None:
    async def scenario() -> None:
        async def never_answer(
            state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await _request(reader)
            await asyncio.sleep(10)

        async with serving(never_answer) as server, client(read=0.2) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(f"http://127.0.0.1:{server.port}/x")

    runner.run(scenario())


def test_large_bodies_arrive_whole_both_ways(runner: asyncio.Runner) -> None:
    """A body larger than the socket buffers (writing waits for the peer) and an answer
    larger than what the backend buffers before it pauses reading."""

    async def scenario() -> None:
        big = bytes(range(256)) * (3 * 4096)  # 3 MiB

        async def echo(
            state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            while True:
                body = await _request(reader)
                writer.write(_answer(body))
                await writer.drain()

        async with serving(echo) as server, client() as http:
            answer = await http.post(f"http://127.0.0.1:{server.port}/x", content=big)
        assert answer.content == big

    runner.run(scenario())


def test_a_peer_that_stops_reading_is_a_write_timeout(runner: asyncio.Runner) -> None:
    async def scenario() -> None:
        async def never_read(
            state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await asyncio.sleep(10)

        async with serving(never_read) as server, client(write=0.3) as http:
            with pytest.raises(httpx.WriteTimeout):
                await http.post(
                    f"http://127.0.0.1:{server.port}/x", content=b"x" * (64 * 1024 * 1024)
                )

    runner.run(scenario())


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "loopback")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_is_verified_with_the_context_given(runner: asyncio.Runner, tmp_path: Path) -> None:
    async def scenario() -> None:
        cert, key = _certificate(tmp_path)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        trusting = ssl.create_default_context(cafile=str(cert))
        async with serving(keep_answering, tls=server_tls) as server:
            url = f"https://127.0.0.1:{server.port}/x"
            transport = NetworkTransport(limits=LIMITS, verify=trusting)
            async with httpx.AsyncClient(transport=transport) as http:
                answers = [await http.post(url, content=b"abc") for _ in range(2)]
            async with client() as untrusting:  # the system's roots do not know this certificate
                with pytest.raises(httpx.ConnectError):
                    await untrusting.get(url)
        assert [a.text for a in answers] == ["3", "3"]  # a server that speaks only TLS
        assert len(server.connections) == 1  # both on one; the refused handshake never got that far

    runner.run(scenario())


PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def test_the_connectors_clients_go_through_this_backend(
    runner: asyncio.Runner,
    settings: Settings,
    store: ConnectionStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every API pool and token client of a connector over the network. httpx keeps its pool
    in a private attribute: a version of httpx that moves it fails here."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    async def scenario() -> None:
        connector = FortnoxConnector(settings, store)
        try:
            clients = [pool.http for pool in connector._pools] + connector.oauth._clients
            transports = [http._transport for http in clients]
            assert all(isinstance(t, NetworkTransport) for t in transports)

        finally:
            await connector.aclose()

    runner.run(scenario())


def test_a_proxy_the_environment_names_carries_every_call_of_the_connector(
    runner: asyncio.Runner,
    settings: Settings,
    store: ConnectionStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx honours ``HTTPS_PROXY`` only on its own transport: where one is set, the connector
    goes through it (API and token calls), as a deployment behind an egress proxy needs."""

    async def scenario() -> None:
        tunnels: list[str] = []

        async def proxy(
            state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            tunnels.append((await reader.readuntil(b"\r\n")).decode().split()[1])
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

        async with serving(proxy) as server:
            for name in PROXY_VARIABLES:
                monkeypatch.delenv(name, raising=False)
            monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{server.port}")
            connector = FortnoxConnector(settings, store)
            try:
                url = "https://api.fortnox.se/3/companyinformation"
                with pytest.raises(httpx.ProxyError):
                    await connector._pools[0].http.get(url)
                with pytest.raises(httpx.ProxyError):  # authlib's client, sent without a token
                    await connector.oauth._clients[0].request("GET", url, withhold_token=True)
            finally:
                await connector.aclose()
        assert tunnels == ["api.fortnox.se:443", "api.fortnox.se:443"]

    runner.run(scenario())


def pooled(limits: httpx.Limits, **timeouts: float) -> httpx.AsyncClient:
    transport = NetworkTransport(limits=limits, verify=ssl.create_default_context())
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, **timeouts))


async def answer_slowly(
    state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """As ``keep_answering``, a tenth of a second after each request."""
    while True:
        state.bodies.append(await _request(reader))
        await asyncio.sleep(0.1)
        writer.write(_answer(b"ok"))
        await writer.drain()


def test_requests_beyond_max_connections_wait_their_turn(runner: asyncio.Runner) -> None:
    async def scenario() -> None:
        limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
        async with serving(answer_slowly) as server, pooled(limits) as http:
            url = f"http://127.0.0.1:{server.port}/x"
            answers = await asyncio.gather(*(http.get(url) for _ in range(6)))
        assert [a.text for a in answers] == ["ok"] * 6
        assert len(server.connections) == 2  # two at a time, each used three times

    runner.run(scenario())


def test_a_turn_that_does_not_come_in_time_is_a_pool_timeout_never_sent(
    runner: asyncio.Runner,
) -> None:
    async def scenario() -> None:
        limits = httpx.Limits(max_connections=1)
        async with serving(answer_slowly) as server, pooled(limits, pool=0.03) as http:
            url = f"http://127.0.0.1:{server.port}/x"
            first, second = await asyncio.gather(
                http.post(url, content=b"first"),
                http.post(url, content=b"second"),
                return_exceptions=True,
            )
        assert isinstance(first, httpx.Response)
        assert isinstance(second, httpx.PoolTimeout)
        assert server.bodies == [b"first"]

    runner.run(scenario())


def test_a_request_given_up_while_it_waits_or_talks_frees_its_place(
    runner: asyncio.Runner,
) -> None:
    async def scenario() -> None:
        limits = httpx.Limits(max_connections=1)
        async with serving(answer_slowly) as server, pooled(limits) as http:
            url = f"http://127.0.0.1:{server.port}/x"
            talking = asyncio.ensure_future(http.get(url))
            waiting = asyncio.ensure_future(http.get(url))
            await asyncio.sleep(0.02)
            waiting.cancel()
            talking.cancel()
            await asyncio.gather(talking, waiting, return_exceptions=True)
            answer = await asyncio.wait_for(http.get(url), 2)
        assert answer.text == "ok"
        assert len(server.connections) == 2  # the one given up mid-answer was not kept

    runner.run(scenario())


@pytest.mark.parametrize(
    "limits",
    [
        httpx.Limits(max_keepalive_connections=0),  # the token clients' limits
        httpx.Limits(max_keepalive_connections=5, keepalive_expiry=0.05),
    ],
    ids=["keeping-none", "expired"],
)
def test_a_connection_not_kept_or_kept_too_long_is_not_taken_again(
    runner: asyncio.Runner, limits: httpx.Limits
) -> None:
    async def scenario() -> None:
        async with serving(keep_answering) as server, pooled(limits) as http:
            url = f"http://127.0.0.1:{server.port}/x"
            for _ in range(3):
                assert (await http.get(url)).status_code == 200
                await asyncio.sleep(0.1)
        assert len(server.connections) == 3

    runner.run(scenario())


def test_an_answer_that_says_close_or_ends_with_the_stream_is_not_followed_on_it(
    runner: asyncio.Runner,
) -> None:
    async def scenario() -> None:
        async def close_then_stream(
            state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await _request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            await _request(reader)  # a client that ignored "close" would come here
            writer.write(b"HTTP/1.1 200 OK\r\n\r\nto the end")
            await writer.drain()
            writer.close()

        async with serving(close_then_stream) as server, client() as http:
            url = f"http://127.0.0.1:{server.port}/x"
            first = await http.get(url)
            second = await http.get(url)
        assert (first.text, second.text) == ("ok", "ok")
        assert len(server.connections) == 2

    runner.run(scenario())


def test_a_body_of_unknown_length_goes_out_in_chunks(runner: asyncio.Runner) -> None:
    async def scenario() -> None:
        received: list[bytes] = []

        async def read_chunks(
            state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            received.extend([head.lower(), await reader.readuntil(b"0\r\n\r\n")])
            writer.write(_answer(b"ok"))
            await writer.drain()

        async def parts() -> AsyncIterator[bytes]:
            for part in (b"abc", b"", b"de"):
                yield part

        async with serving(read_chunks) as server, client() as http:
            answer = await http.post(f"http://127.0.0.1:{server.port}/x", content=parts())
        assert answer.text == "ok"
        assert b"transfer-encoding: chunked" in received[0]
        assert received[1] == b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"

    runner.run(scenario())
