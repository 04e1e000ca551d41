"""The connector's sockets: httpcore's HTTP/1.1 over asyncio's own transports.

httpx reaches the network through httpcore, and httpcore through a *network backend*. Its
default on asyncio goes through anyio: a cancel scope around every read and write, a
``select`` on the socket each time a kept-alive connection is taken from the pool. Under a
burst that was an eighth of the event loop's time (py-spy, ``bench/remediation.py --served``).
This backend talks to asyncio's transports directly: a read waits on one future with one
timer, and whether an idle connection was closed by the server is known from the events
asyncio already delivered (end of stream, connection lost), without a system call.

What httpcore and httpx build on stays as it was: the same exceptions for the same events
(``ConnectError`` only when nothing was sent, so a voucher POST is never taken for unsent when
it might have arrived), the same timeouts per phase, TLS through the same ``SSLContext``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import urllib.request
from collections.abc import Coroutine, Iterable
from typing import Any, cast

import httpcore
import httpx
from httpcore import SOCKET_OPTION, AsyncNetworkBackend, AsyncNetworkStream

# Reading stops (the transport is paused) while this much is received and not yet read.
_HIGH_WATER = 256 * 1024


class _Protocol(asyncio.Protocol):
    """Receives into a buffer and wakes the one reader (httpcore reads and writes in turn)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.reading_paused = False
        self.writing_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's are not subclasses of asyncio's classes)
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        self.writing_paused = False
        _settle(self.drained)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _settle(self.drained)

    def _wake(self) -> None:
        _settle(self.waiter)


def _settle(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def _wait(
    future: asyncio.Future[None],
    timeout: float | None,  # noqa: ASYNC109 - httpcore's, per call
    error: type[httpcore.TimeoutException],
    doing: str,
) -> None:
    """Wait for ``future``; ``error`` (httpcore's timeout of this phase) after ``timeout``
    seconds (None: no limit)."""
    loop = asyncio.get_running_loop()
    timer = None if timeout is None else loop.call_later(timeout, _expire, future)
    try:
        await future
    except TimeoutError:
        raise error(f"timed out {doing}") from None
    finally:
        if timer is not None:
            timer.cancel()


def _lost(error: BaseException, kind: type[httpcore.NetworkError]) -> httpcore.NetworkError:
    return kind(str(error) or type(error).__name__)


class AsyncioStream(AsyncNetworkStream):
    """One connection, plain or TLS, as httpcore reads and writes it."""

    def __init__(self, transport: asyncio.BaseTransport, protocol: _Protocol) -> None:
        self._transport = cast("asyncio.Transport", transport)
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            protocol.waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(protocol.waiter, timeout, httpcore.ReadTimeout, "reading")
            finally:
                protocol.waiter = None
        if protocol.buffer:
            data = bytes(protocol.buffer[:max_bytes])
            del protocol.buffer[:max_bytes]
            if protocol.reading_paused and len(protocol.buffer) <= _HIGH_WATER // 4:
                protocol.reading_paused = False
                self._transport.resume_reading()
            return data
        if protocol.error is not None:
            raise _lost(protocol.error, httpcore.ReadError)
        return b""  # the server ended the stream: httpcore decides what that means

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        protocol, transport = self._protocol, self._transport
        if protocol.eof or transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        transport.write(buffer)
        if protocol.writing_paused:
            protocol.drained = asyncio.get_running_loop().create_future()
            try:
                await _wait(protocol.drained, timeout, httpcore.WriteTimeout, "writing")
            finally:
                protocol.drained = None
            if protocol.error is not None:
                raise _lost(protocol.error, httpcore.WriteError)

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                tls = await loop.start_tls(
                    self._transport,
                    self._protocol,
                    ssl_context,
                    server_hostname=server_hostname,
                )
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from None
        except (OSError, ssl.SSLError) as err:
            self._transport.close()
            raise httpcore.ConnectError(str(err)) from err
        self._transport = self._protocol.transport = cast("asyncio.Transport", tls)
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle connection the server closed, or wrote on
            return bool(self._protocol.buffer) or self._protocol.eof
        name = {"client_addr": "sockname", "server_addr": "peername"}.get(info, info)
        if name in {"ssl_object", "sockname", "peername", "socket"}:
            return self._transport.get_extra_info(name)
        return None


class AsyncioBackend(AsyncNetworkBackend):
    """httpcore's network backend on asyncio's transports (uvloop's too)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        opening = asyncio.get_running_loop().create_connection(
            _Protocol, host, port, local_addr=local
        )
        return await _connected(opening, timeout, f"{host}:{port}", socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connected(
    opening: Coroutine[Any, Any, tuple[asyncio.BaseTransport, _Protocol]],
    timeout: float | None,  # noqa: ASYNC109 - httpcore's, per call
    where: str,
    options: Iterable[SOCKET_OPTION] | None,
) -> AsyncioStream:
    """The stream ``opening`` connects; httpcore's connect errors (nothing was sent) for what
    goes wrong."""
    try:
        async with asyncio.timeout(timeout):
            transport, protocol = await opening
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"timed out connecting to {where}") from None
    except OSError as err:
        raise httpcore.ConnectError(str(err)) from err
    _apply(transport, options)
    return AsyncioStream(transport, protocol)


def _apply(transport: asyncio.BaseTransport, options: Iterable[SOCKET_OPTION] | None) -> None:
    if not options:
        return
    sock: socket.socket = transport.get_extra_info("socket")
    for option in options:
        sock.setsockopt(*option)


def _proxied() -> bool:
    """Whether the environment names a proxy (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``)."""
    return any(urllib.request.getproxies().get(scheme) for scheme in ("http", "https", "all"))


def transport_options(limits: httpx.Limits, verify: ssl.SSLContext) -> dict[str, Any]:
    """The options of an ``httpx.AsyncClient`` (or authlib's, a subclass) for the network:
    this backend, or, where the environment names a proxy, httpx's own transport, which alone
    honours the proxy variables (and ``NO_PROXY``) as httpx does."""
    if _proxied():
        return {"limits": limits, "verify": verify}
    return {"transport": NetworkTransport(limits=limits, verify=verify)}


class NetworkTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool on ``AsyncioBackend``."""

    def __init__(self, *, limits: httpx.Limits, verify: ssl.SSLContext) -> None:
        super().__init__(limits=limits, verify=verify)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=verify,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )
