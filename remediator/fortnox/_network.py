"""The connector's transport: httpx's requests on HTTP/1.1 over asyncio's own transports.

httpx reaches the network through a transport; its own is httpcore, which on asyncio goes
through anyio: a cancel scope around every read and write, locks that each yield to the event
loop once more, a pool that looks at every connection at each request and answer, and h11
parsing in Python. Under a burst that was most of what a request cost the event loop
(py-spy, ``bench/remediation.py --served``). This transport keeps one protocol per socket, one
future and one timer per wait, a pool that finds a connection in constant time, and parses
answers with httptools (``_http11``).

What the connector builds on is httpx's, unchanged: its exceptions for the same events
(``ConnectError``/``ConnectTimeout``/``PoolTimeout`` only when nothing was sent, so a voucher
POST is never taken for unsent when it might have arrived; a dropped answer is a
``RemoteProtocolError`` or ``ReadError``), its timeouts per phase, TLS through the same
``SSLContext``, and its ``Limits`` (connections, kept-alive connections, keep-alive expiry).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import urllib.request
from collections import deque
from typing import Any, cast

import httpx

from remediator.fortnox._http11 import Head, ResponseReader, chunk, request_head

# Reading stops (the transport is paused) while this much is received and not yet read.
_HIGH_WATER = 256 * 1024
_PORTS = {b"http": 80, b"https": 443}

Origin = tuple[bytes, str, int]  # scheme, host, port
Timeouts = dict[str, float | None]


class _Protocol(asyncio.Protocol):
    """Receives into a buffer and wakes the one reader (a connection reads and writes in turn)."""

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
        _settle(self.waiter)

    def eof_received(self) -> bool:
        self.eof = True
        _settle(self.waiter)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        _settle(self.waiter)
        self.writing_paused = False
        _settle(self.drained)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _settle(self.drained)


def _settle(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def _wait(
    future: asyncio.Future[None],
    timeout: float | None,  # noqa: ASYNC109 - httpx's, per phase
    error: type[httpx.TimeoutException],
    doing: str,
    request: httpx.Request,
) -> None:
    """Wait for ``future``; httpx's ``error`` for this phase after ``timeout`` seconds (None:
    no limit)."""
    timer = None
    if timeout is not None:
        timer = asyncio.get_running_loop().call_later(timeout, _expire, future)
    try:
        await future
    except TimeoutError:
        raise error(f"timed out {doing}", request=request) from None
    finally:
        if timer is not None:
            timer.cancel()


class Connection:
    """One socket to one origin, plain or TLS, carrying one request at a time."""

    def __init__(
        self, origin: Origin, transport: asyncio.BaseTransport, protocol: _Protocol
    ) -> None:
        self.origin = origin
        self.idle_since = 0.0
        self._transport = cast("asyncio.Transport", transport)
        self._protocol = protocol

    def usable(self) -> bool:
        """Open, and nothing arrived while idle (a server that closed it, or wrote on it)."""
        protocol = self._protocol
        return not (protocol.eof or protocol.buffer or self._transport.is_closing())

    def close(self) -> None:
        self._transport.close()

    async def exchange(self, request: httpx.Request, timeouts: Timeouts) -> ResponseReader:
        """Send ``request`` and read its whole answer."""
        reader = ResponseReader(request)
        head = request_head(request)
        with contextlib.suppress(httpx.WriteError):  # a server may close early and answer
            await self._send(request, head, timeouts.get("write"))
        while not reader.complete:
            data = await self._read(request, timeouts.get("read"))
            if not data:
                reader.eof()
                break
            reader.feed(data)
        if head.closes:
            reader.keep_alive = False
        return reader

    async def _send(self, request: httpx.Request, head: Head, timeout: float | None) -> None:  # noqa: ASYNC109
        try:
            body: bytes | None = request.content
        except httpx.RequestNotRead:  # a body httpx has not read: it goes out as it comes
            body = None
        if body is not None:
            framed = (chunk(body) if body else b"") + chunk(b"") if head.chunked else body
            await self._write(head.data + framed, request, timeout)
            return
        await self._write(head.data, request, timeout)
        async for part in cast("httpx.AsyncByteStream", request.stream):
            if part:
                await self._write(chunk(part) if head.chunked else part, request, timeout)
        if head.chunked:
            await self._write(chunk(b""), request, timeout)

    async def _write(self, data: bytes, request: httpx.Request, timeout: float | None) -> None:  # noqa: ASYNC109
        protocol, transport = self._protocol, self._transport
        if protocol.eof or transport.is_closing():
            raise httpx.WriteError("the connection is closed", request=request)
        if data:
            transport.write(data)
        if not protocol.writing_paused:
            return
        protocol.drained = asyncio.get_running_loop().create_future()
        try:
            await _wait(protocol.drained, timeout, httpx.WriteTimeout, "writing", request)
        finally:
            protocol.drained = None
        if protocol.error is not None:
            raise httpx.WriteError(_said(protocol.error), request=request)

    async def _read(self, request: httpx.Request, timeout: float | None) -> bytes:  # noqa: ASYNC109
        """What arrived (waiting for it), or ``b""`` once the server ended the stream."""
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            protocol.waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(protocol.waiter, timeout, httpx.ReadTimeout, "reading", request)
            finally:
                protocol.waiter = None
        if protocol.buffer:
            data = bytes(protocol.buffer)
            protocol.buffer.clear()
            if protocol.reading_paused:
                protocol.reading_paused = False
                self._transport.resume_reading()
            return data
        if protocol.error is not None:
            raise httpx.ReadError(_said(protocol.error), request=request)
        return b""


def _said(error: BaseException) -> str:
    return str(error) or type(error).__name__


async def connect(
    origin: Origin,
    tls: ssl.SSLContext,
    timeout: float | None,  # noqa: ASYNC109 - httpx's, per request
    request: httpx.Request,
) -> Connection:
    """A new connection (TLS for https); httpx's connect errors, nothing being sent, for what
    goes wrong, the TLS handshake included."""
    scheme, host, port = origin
    context = tls if scheme == b"https" else None
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            transport, protocol = await loop.create_connection(
                _Protocol, host, port, ssl=context, server_hostname=host if context else None
            )
    except TimeoutError:
        raise httpx.ConnectTimeout(
            f"timed out connecting to {host}:{port}", request=request
        ) from None
    except (OSError, ssl.SSLError) as err:
        raise httpx.ConnectError(_said(err), request=request) from err
    return Connection(origin, transport, protocol)


def _origin(request: httpx.Request) -> Origin:
    url = request.url
    scheme = url.raw_scheme
    if scheme not in _PORTS:
        raise httpx.UnsupportedProtocol(f"not an http(s) URL: {scheme!r}", request=request)
    return scheme, url.raw_host.decode("ascii"), url.port or _PORTS[scheme]


def _proxied() -> bool:
    """Whether the environment names a proxy (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``):
    one read of the environment (each reads every variable; a service's start made a hundred)."""
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


def transport_options(limits: httpx.Limits, verify: ssl.SSLContext) -> dict[str, Any]:
    """The options of an ``httpx.AsyncClient`` (or authlib's, a subclass) for the network:
    this transport, or, where the environment names a proxy, httpx's own transport, which alone
    honours the proxy variables (and ``NO_PROXY``) as httpx does."""
    if _proxied():
        return {"limits": limits, "verify": verify}
    return {"transport": NetworkTransport(limits=limits, verify=verify)}


class NetworkTransport(httpx.AsyncBaseTransport):
    """httpx's transport for the connector: a pool of ``Connection`` within httpx's
    ``Limits``. A request takes the origin's most recently used idle connection, else opens
    one while under ``max_connections``, else closes another origin's idle one, else waits
    its turn (first come, first served) until the pool timeout."""

    def __init__(self, *, limits: httpx.Limits, verify: ssl.SSLContext) -> None:
        self._tls = verify
        self._max = limits.max_connections
        self._keep = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._idle: dict[Origin, list[Connection]] = {}
        self._idle_count = 0
        self._open = 0  # connections open or opening, busy or idle
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: Timeouts = request.extensions.get("timeout", {})
        connection = await self._acquire(_origin(request), request, timeouts)
        keep = False
        try:
            reader = await connection.exchange(request, timeouts)
            keep = reader.keep_alive and not reader.trailing
            return reader.response()
        finally:
            self._release(connection, keep=keep)

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
                self._open -= 1
        self._idle.clear()
        self._idle_count = 0

    # -- the pool ------------------------------------------------------------------------
    async def _acquire(
        self, origin: Origin, request: httpx.Request, timeouts: Timeouts
    ) -> Connection:
        waited = asyncio.get_running_loop().time()
        while True:
            connection = self._take_idle(origin)
            if connection is not None:
                return connection
            if self._max is None or self._open < self._max:
                return await self._connect(origin, request, timeouts.get("connect"))
            if not self._drop_an_idle():
                await self._wait_turn(request, timeouts.get("pool"), waited)

    def _take_idle(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.usable() and (
                self._expiry is None or now - connection.idle_since < self._expiry
            ):
                return connection
            self._discard(connection)
        return None

    async def _connect(
        self,
        origin: Origin,
        request: httpx.Request,
        timeout: float | None,  # noqa: ASYNC109
    ) -> Connection:
        self._open += 1
        try:
            return await connect(origin, self._tls, timeout, request)
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise

    def _drop_an_idle(self) -> bool:
        """Close the longest idle connection of any origin, making room for a new one."""
        oldest: Connection | None = None
        for idle in self._idle.values():
            if idle and (oldest is None or idle[0].idle_since < oldest.idle_since):
                oldest = idle[0]
        if oldest is None:
            return False
        self._idle[oldest.origin].remove(oldest)
        self._idle_count -= 1
        self._discard(oldest)
        return True

    async def _wait_turn(
        self,
        request: httpx.Request,
        timeout: float | None,  # noqa: ASYNC109 - httpx's pool timeout
        waited: float,
    ) -> None:
        loop = asyncio.get_running_loop()
        left = None if timeout is None else max(0.0, timeout - (loop.time() - waited))
        turn = loop.create_future()
        self._waiting.append(turn)
        try:
            await _wait(turn, left, httpx.PoolTimeout, "waiting for a connection", request)
        except BaseException:
            if turn in self._waiting:
                self._waiting.remove(turn)
            elif not turn.cancelled() and turn.exception() is None:
                self._wake_one()  # given its turn as it gave up: the turn goes to the next
            raise

    def _release(self, connection: Connection, *, keep: bool) -> None:
        if (
            keep
            and not self._closed
            and (self._keep is None or self._idle_count < self._keep)
            and connection.usable()
        ):
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.origin, []).append(connection)
            self._idle_count += 1
        else:
            self._discard(connection)
        self._wake_one()

    def _discard(self, connection: Connection) -> None:
        connection.close()
        self._open -= 1

    def _wake_one(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
