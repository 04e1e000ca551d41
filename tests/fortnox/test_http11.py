"""HTTP/1.1 messages as the connector's transport writes and reads them (``_http11``)."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import httpx
import pytest

from remediator.fortnox._http11 import ResponseReader, chunk, request_head
from tests.garbage import cyclic_garbage

URL = "https://api.fortnox.se/3/vouchers?financialyear=2&limit=500"


def answer_of(reader: ResponseReader) -> httpx.Response:
    """The response as httpx's client gets it, read (the client reads it as it returns)."""
    answer = reader.response()
    answer.read()
    return answer


def read(raw: bytes, method: str = "GET", *, piecewise: bool = False) -> ResponseReader:
    reader = ResponseReader(httpx.Request(method, URL))
    for piece in [raw[i : i + 1] for i in range(len(raw))] if piecewise else [raw]:
        reader.feed(piece)
    return reader


def test_the_head_carries_the_target_and_every_header_httpx_set() -> None:
    request = httpx.Request("POST", URL, json={"Voucher": {}}, headers={"X-A": "1"})
    head = request_head(request)
    lines = head.data.split(b"\r\n")
    assert lines[0] == b"POST /3/vouchers?financialyear=2&limit=500 HTTP/1.1"
    assert b"Host: api.fortnox.se" in lines
    assert b"X-A: 1" in lines
    assert b"Content-Length: 14" in lines
    assert head.data.endswith(b"\r\n\r\n")
    assert not head.chunked
    assert not head.closes


def test_a_request_that_says_close_is_marked() -> None:
    assert request_head(httpx.Request("GET", URL, headers={"Connection": "Close"})).closes


def test_a_header_that_would_split_the_head_is_refused() -> None:
    request = httpx.Request("GET", URL, headers={"X-A": "1"})
    request.headers["X-A"] = "1\r\nX-Injected: yes"
    with pytest.raises(httpx.LocalProtocolError):
        request_head(request)


def test_a_body_of_unknown_length_goes_in_chunks() -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"abc"

    assert request_head(httpx.Request("POST", URL, content=parts())).chunked
    assert chunk(b"abc") == b"3\r\nabc\r\n"
    assert chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert chunk(b"") == b"0\r\n\r\n"


@pytest.mark.parametrize("piecewise", [False, True])
def test_an_answer_framed_by_its_length_is_read_whole_however_it_arrives(
    piecewise: bool,
) -> None:
    raw = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
        b'{"a": true}'
    )
    reader = read(raw, piecewise=piecewise)
    assert reader.complete
    assert reader.keep_alive
    assert not reader.trailing
    answer = answer_of(reader)
    assert (answer.status_code, answer.reason_phrase, answer.http_version) == (
        201,
        "Created",
        "HTTP/1.1",
    )
    assert answer.json() == {"a": True}
    assert answer.headers["content-type"] == "application/json"


def test_a_chunked_and_compressed_answer_is_joined_and_decoded() -> None:
    body = gzip.compress(b'{"Vouchers": []}')
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        + chunk(body[:10])
        + chunk(body[10:])
        + chunk(b"")
    )
    reader = read(raw, piecewise=True)
    assert reader.complete
    assert reader.keep_alive
    assert answer_of(reader).json() == {"Vouchers": []}


def test_an_answer_framed_by_the_end_of_the_stream_ends_there_and_closes() -> None:
    reader = read(b"HTTP/1.1 200 OK\r\n\r\npart one, ")
    reader.feed(b"part two")
    assert not reader.complete
    reader.eof()
    assert reader.complete
    assert not reader.keep_alive
    assert answer_of(reader).text == "part one, part two"


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"", "without sending a response"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "without sending complete message body"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "complete message body"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", "complete"),
    ],
)
def test_a_stream_that_ends_inside_the_answer_is_a_remote_protocol_error(
    raw: bytes, said: str
) -> None:
    reader = read(raw)
    with pytest.raises(httpx.RemoteProtocolError, match=said) as caught:
        reader.eof()
    assert caught.value.request.url == URL


def test_what_is_not_http_is_a_remote_protocol_error() -> None:
    with pytest.raises(httpx.RemoteProtocolError, match=r"not HTTP/1\.1"):
        read(b"SSH-2.0-OpenSSH_9.2\r\n")


def test_an_informational_answer_before_the_answer_is_skipped() -> None:
    reader = read(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert reader.complete
    answer = answer_of(reader)
    assert (answer.status_code, answer.reason_phrase, answer.text) == (200, "OK", "ok")


def test_the_answer_to_a_head_request_has_no_body_whatever_its_headers_say() -> None:
    reader = read(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", method="HEAD")
    assert reader.complete
    assert not reader.keep_alive
    assert answer_of(reader).content == b""


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
)
def test_an_answer_that_closes_the_connection_is_not_kept(raw: bytes) -> None:
    reader = read(raw)
    assert reader.complete
    assert not reader.keep_alive


def test_bytes_after_the_answer_mark_the_connection_unfit_to_keep() -> None:
    reader = read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
    assert reader.complete
    assert reader.trailing
    assert answer_of(reader).text == "ok"
    garbage = read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\x00\x01 not http")
    assert garbage.complete
    assert garbage.trailing


def test_a_read_answer_is_freed_without_the_garbage_collector() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    with cyclic_garbage() as garbage:
        assert answer_of(read(raw)).json() == {}
    assert not [o for o in garbage if isinstance(o, (ResponseReader, httpx.Response))]
