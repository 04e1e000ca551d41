"""HTTP/1.1 messages as the connector's transport writes and reads them (``_network``).

A request is written as one buffer: its head (httpx has set every header, ``Host`` and the
body's framing included) and its body. A response is read by httptools' parser (llhttp, in
C; uvicorn parses the service's requests with it): status, headers, a body framed by
``Content-Length``, by chunks or by the end of the stream, and whether the connection may be
used again. Anything the parser refuses is httpx's ``RemoteProtocolError``, as it is with
httpcore.
"""

from __future__ import annotations

from dataclasses import dataclass

import httptools
import httpx

_CHUNKED = b"chunked"
_NO_BODY = frozenset({b"HEAD"})
_INFORMATIONAL = range(100, 200)
_SWITCHING = 101


@dataclass(frozen=True)
class Head:
    """A request's head as written, and what its headers say about the exchange."""

    data: bytes
    chunked: bool  # the body goes in chunks (httpx's framing of a body of unknown length)
    closes: bool  # ``Connection: close``: the connection is not used after the answer


def request_head(request: httpx.Request) -> Head:
    """The request line and headers; ``LocalProtocolError`` for a header that would split the
    head (a line break in a name or value)."""
    lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
    by_chunks = closes = False
    for name, value in request.headers.raw:
        if b"\n" in name or b"\r" in name or b"\n" in value or b"\r" in value:
            raise httpx.LocalProtocolError("a header contains a line break", request=request)
        lines.append(b"%s: %s\r\n" % (name, value))
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            by_chunks = value.strip().lower() == _CHUNKED
        elif lowered == b"connection":
            closes = value.strip().lower() == b"close"
    lines.append(b"\r\n")
    return Head(b"".join(lines), chunked=by_chunks, closes=closes)


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (an empty ``data`` ends the body)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class ResponseReader:
    """One response, fed as it arrives: ``feed`` until ``complete``, then ``eof`` if the stream
    ends first. A 1xx answer before the response is skipped."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.trailing = False  # bytes after the response: the connection is not used again
        self._begun = False
        self._framed = False  # Content-Length or chunks: the end of the stream is not the end
        self._head_only = request.method.encode("ascii") in _NO_BODY
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)

    # -- what the caller does ------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        try:
            self._parsing.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as err:
            if not self.complete:
                raise httpx.RemoteProtocolError(
                    f"the server's answer is not HTTP/1.1: {err}", request=self.request
                ) from None
            self.trailing = True

    def eof(self) -> None:
        """The server ended the stream: the end of a body framed by it, or a broken answer."""
        if self.complete:
            return
        if not self._begun:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=self.request
            )
        if not self.headers_done or self._framed:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body",
                request=self.request,
            )
        self.complete, self.keep_alive = True, False

    def response(self) -> httpx.Response:
        """The response read. The parser is let go: it holds this reader's callbacks, a cycle
        the garbage collector would otherwise have to find for every response."""
        self._parser = None
        return httpx.Response(
            self.status,
            headers=self.headers,
            stream=httpx.ByteStream(b"".join(self.body)),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": self.reason},
            request=self.request,
        )

    @property
    def _parsing(self) -> httptools.HttpResponseParser:
        if self._parser is None:
            raise RuntimeError("the response was read already")
        return self._parser

    # -- httptools' callbacks ------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._begun = True
        if self.complete:
            self.trailing = True

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.complete:
            return
        self.headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length" or (
            lowered == b"transfer-encoding" and value.lower().endswith(_CHUNKED)
        ):
            self._framed = True

    def on_headers_complete(self) -> None:
        if self.complete:
            return
        status = self._parsing.get_status_code()
        if (
            status in _INFORMATIONAL and status != _SWITCHING
        ):  # informational: the answer comes after
            self.reason, self.headers, self._framed = b"", [], False
            return
        self.status = status
        self.headers_done = True
        if self._head_only:  # no body follows, whatever the headers say
            self._finish(keep_alive=False)

    def on_body(self, data: bytes) -> None:
        if not self.complete:
            self.body.append(data)

    def on_message_complete(self) -> None:
        if self.headers_done and not self.complete:
            self._finish(keep_alive=self._parsing.should_keep_alive())

    def _finish(self, *, keep_alive: bool) -> None:
        self.complete = True
        self.keep_alive = keep_alive
