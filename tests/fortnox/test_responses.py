"""Every error shape Fortnox uses, and every status, maps to the right exception."""

from __future__ import annotations

import httpx
import pytest

from remediator.fortnox import (
    BadRequest,
    Forbidden,
    FortnoxAPIError,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    parse_error_body,
)
from remediator.fortnox._responses import error_for, is_expired_token, unwrap


def response(
    status: int, content: bytes, content_type: str = "application/json", uid: str | None = None
) -> httpx.Response:
    headers = {"Content-Type": content_type}
    if uid:
        headers["X-Uid"] = uid
    return httpx.Response(status, content=content, headers=headers)


@pytest.mark.parametrize(
    ("content", "message", "code"),
    [
        (
            b'{"ErrorInformation":{"error":1,"message":"Kan inte hitta kontot.","code":2000423}}',
            "Kan inte hitta kontot.",
            2000423,
        ),
        (
            b'{"ErrorInformation":{"Error":1,"Message":"Kan inte hitta kontot.","Code":2000423}}',
            "Kan inte hitta kontot.",
            2000423,
        ),
        (b'{"errorinformation":{"error":"1","message":"x","code":"2001940"}}', "x", 2001940),
        (b'{"ErrorInformation":{"error":1,"message":"no code"}}', "no code", None),
        (b'{"ErrorInformation":{"message":"bad","code":"abc"}}', "bad", None),
    ],
)
def test_error_information_in_any_key_case(content: bytes, message: str, code: int | None) -> None:
    body = parse_error_body(response(400, content))
    assert (body.message, body.code, body.oauth_error) == (message, code, None)


@pytest.mark.parametrize(
    ("body", "message", "code", "oauth_error"),
    [
        ({"ErrorInformation": {"code": 2001940}}, "", 2001940, None),
        ({"ERRORINFORMATION": {"CODE": " 2000550 ", "MESSAGE": "m"}}, "m", 2000550, None),
        ({"ErrorInformation": {"code": True}}, "", None, None),
        ({"ErrorInformation": "x"}, "", None, None),
        ({"error": "invalid_grant"}, "invalid_grant", None, "invalid_grant"),
        ('{"ErrorInformation": {"Message": "m", "Code": "7"}}', "m", 7, None),
        (b'{"message": "unauthorized"}', "unauthorized", None, None),
        ("Kunde inte hitta konto", "Kunde inte hitta konto", None, None),
        (["not", "an", "object"], "", None, None),
        (None, "", None, None),
        (42, "", None, None),
    ],
)
def test_a_body_passed_on_is_read_the_same_way(
    body: object, message: str, code: int | None, oauth_error: str | None
) -> None:
    said = parse_error_body(body)
    assert (said.message, said.code, said.oauth_error) == (message, code, oauth_error)


def test_a_passed_on_html_page_is_recognised_as_one() -> None:
    said = parse_error_body("<html><head><title>502 Bad Gateway</title></head></html>")
    assert said.is_html
    assert said.message.endswith("502 Bad Gateway")


def test_oauth_error_read_even_when_content_type_says_html() -> None:
    body = parse_error_body(
        response(
            400,
            b'{"error":"invalid_grant","error_description":"Invalid refresh token"}',
            "text/html",
        )
    )
    assert body.oauth_error == "invalid_grant"
    assert body.message == "Invalid refresh token"


def test_bare_message() -> None:
    body = parse_error_body(response(401, b'{"message":"unauthorized"}'))
    assert (body.message, body.code) == ("unauthorized", None)


def test_html_from_a_gateway() -> None:
    page = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body/></html>"
    body = parse_error_body(response(502, page, "text/html"))
    assert body.is_html
    assert "502 Bad Gateway" in body.message


@pytest.mark.parametrize("content", [b"", b"   "])
def test_empty_body(content: bytes) -> None:
    assert "empty answer with HTTP 503" in parse_error_body(response(503, content)).message


def test_plain_text_body_is_kept_short() -> None:
    assert len(parse_error_body(response(500, b"x" * 1000, "text/plain")).message) == 300


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (429, RateLimited),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (409, BadRequest),
    ],
)
def test_status_maps_to_exception(status: int, cls: type[FortnoxAPIError]) -> None:
    err = error_for(
        response(status, b'{"ErrorInformation":{"message":"m","code":7}}', uid="U-1"),
        "GET",
        "/3/accounts/1910",
    )
    assert type(err) is cls
    assert (err.status, err.code, err.message, err.uid) == (status, 7, "m", "U-1")
    assert "U-1" in str(err)
    assert "GET /3/accounts/1910" in str(err)


def test_html_with_a_client_status_is_a_server_problem() -> None:
    err = error_for(response(418, b"<html><title>oops</title></html>", "text/html"), "GET", "/3/me")
    assert isinstance(err, ServerError)


def test_expired_token_is_only_the_bare_401() -> None:
    assert is_expired_token(response(401, b'{"message":"unauthorized"}'))
    assert not is_expired_token(
        response(401, b'{"ErrorInformation":{"message":"Ogiltig inloggning","code":2000310}}')
    )
    assert not is_expired_token(response(403, b'{"message":"unauthorized"}'))


def test_unwrap_is_case_insensitive_and_names_what_it_wanted() -> None:
    assert unwrap({"meinformation": {"Id": "1"}}, "MeInformation", "Me") == {"Id": "1"}
    assert unwrap({"Me": {"Id": "1"}}, "MeInformation", "Me") == {"Id": "1"}
    with pytest.raises(ValueError, match="MeInformation"):
        unwrap({"Other": 1}, "MeInformation")
