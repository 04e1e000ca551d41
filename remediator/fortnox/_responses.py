"""Reading Fortnox answers: error bodies of every shape, envelopes, and status mapping."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from remediator.fortnox._exceptions import (
    BadRequest,
    Forbidden,
    FortnoxAPIError,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
)

_FIRST_SERVER_ERROR, _UNAUTHORIZED = 500, 401
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_STATUS_ERRORS: dict[int, type[FortnoxAPIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
}


@dataclass(frozen=True)
class ErrorBody:
    """What an error answer says, whatever shape it came in."""

    message: str
    code: int | None = None
    oauth_error: str | None = None
    is_html: bool = False


def json_body(response: httpx.Response) -> Any:
    """The body parsed as JSON whatever the Content-Type says; ``None`` when it is not JSON."""
    return _json(response.content)


def _lower_keys(data: dict[str, Any]) -> dict[str, Any]:
    return {str(key).lower(): value for key, value in data.items()}


def _as_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_error_body(answer: httpx.Response | Any) -> ErrorBody:
    """What an error answer says: ErrorInformation (any key case, the code as a number or
    text), OAuth errors, bare messages, HTML and empty bodies.

    ``answer`` is Fortnox's response, or an error body someone passed on (the Backoffice's
    failure carries one): parsed JSON, or its text. The one place such bodies are read.
    """
    if isinstance(answer, httpx.Response):
        found = _read(json_body(answer))
        return found or _non_json_body(answer.content, answer.status_code)
    if isinstance(answer, bytes | str):
        content = answer.encode() if isinstance(answer, str) else answer
        found = _read(_json(content))
        return found or _non_json_body(content, None)
    return _read(answer) or ErrorBody("")


def _json(content: bytes) -> Any:
    try:
        return json.loads(content) if content.strip() else None
    except (ValueError, UnicodeDecodeError):
        return None


def _read(data: Any) -> ErrorBody | None:
    """The error in a JSON body, or ``None`` when it carries none of Fortnox's shapes."""
    if not isinstance(data, dict):
        return None
    top = _lower_keys(data)
    info = top.get("errorinformation")
    if isinstance(info, dict):
        fields = _lower_keys(info)
        return ErrorBody(str(fields.get("message", "")), _as_code(fields.get("code")))
    if isinstance(top.get("error"), str):
        description = top.get("error_description") or top["error"]
        return ErrorBody(str(description), oauth_error=top["error"])
    if "message" in top:
        return ErrorBody(str(top["message"]))
    return None


def _non_json_body(content: bytes, status: int | None) -> ErrorBody:
    text = content.decode("utf-8", "replace").strip()
    if not text:
        where = f" with HTTP {status}" if status is not None else ""
        return ErrorBody(f"empty answer{where}")
    if "<html" in text[:500].lower() or "<!doctype" in text[:100].lower():
        title = _TITLE.search(text)
        label = title.group(1).strip() if title else "no title"
        return ErrorBody(f"HTML page instead of JSON (a gateway?): {label}", is_html=True)
    return ErrorBody(text[:300])


def error_for(response: httpx.Response, method: str, path: str) -> FortnoxAPIError:
    """The exception for an error answer, carrying status, code, message and X-Uid."""
    body = parse_error_body(response)
    status = response.status_code
    cls = _STATUS_ERRORS.get(status)
    if cls is None:
        cls = ServerError if status >= _FIRST_SERVER_ERROR or body.is_html else BadRequest
    return cls(
        status=status,
        message=body.message,
        code=body.code,
        uid=response.headers.get("X-Uid"),
        method=method,
        path=path,
    )


def is_expired_token(response: httpx.Response) -> bool:
    """Fortnox's answer to an expired or unknown access token: 401 without ErrorInformation."""
    return response.status_code == _UNAUTHORIZED and parse_error_body(response).code is None


def unwrap(data: Any, *keys: str) -> Any:
    """The value under the first of ``keys`` present (case-insensitive) in a JSON envelope."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")  # noqa: TRY004 - callers catch ValueError
    lowered = _lower_keys(data)
    for key in keys:
        if key.lower() in lowered:
            return lowered[key.lower()]
    raise ValueError(f"expected one of {', '.join(keys)} in the answer")
