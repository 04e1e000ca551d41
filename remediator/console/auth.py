"""Who is at the console: log in, one-time links, sessions, CSRF, log out.

A session is a random token in an ``HttpOnly``, ``SameSite=Strict`` cookie (``Secure`` over
https), stored only as its hash, ending after ``console_session_hours``. Every form carries the
session's CSRF token (forms before a session, such as the login, carry a token that must equal
a cookie set with the form); a form whose ``Origin`` is another site is refused too. The api
token is never accepted here: the console knows only people.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from remediator.console.web import PREFIX, page, redirect, running, secure
from remediator.errors import UsageError
from remediator.storage.audit import Actor, AuditAction, Via
from remediator.storage.users import Session

SESSION_COOKIE = "remediator_session"
FORM_COOKIE = "remediator_form"


class LoginRequired(Exception):
    """No live session: the person is sent to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__("login required")
        self.next_path = next_path


class CsrfRefused(Exception):
    """A form without the right CSRF token, or from another site."""


def _same(given: str, expected: str) -> bool:
    return bool(given and expected) and hmac.compare_digest(given.encode(), expected.encode())


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin == f"{request.url.scheme}://{request.url.netloc}"


async def current(request: Request) -> Session:
    """The signed-in person (a dependency of every page but the login's)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    found = await asyncio.to_thread(running(request).users.session, token) if token else None
    if found is None:
        raise LoginRequired(request.url.path)
    request.state.session = found
    return found


async def checked(request: Request, csrf: Annotated[str, Form()] = "") -> Session:
    """The signed-in person, for a form whose CSRF token is their session's."""
    session = await current(request)
    if not _same(csrf, session.csrf_token) or not _same_origin(request):
        raise CsrfRefused
    return session


Person = Annotated[Session, Depends(current)]
Checked = Annotated[Session, Depends(checked)]


def actor(session: Session) -> Actor:
    return Actor(session.user, Via.CONSOLE)


def _set(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=secure(request),
    )


def _form_page(request: Request, template: str, status: int = 200, **values: object) -> Response:
    """A page with a form before any session: its token is also set as a cookie."""
    token = secrets.token_urlsafe(24)
    response = page(request, template, status, csrf=token, **values)
    _set(response, request, FORM_COOKIE, token, 3600)
    return response


def _form_ok(request: Request, csrf: str) -> bool:
    return _same(csrf, request.cookies.get(FORM_COOKIE, "")) and _same_origin(request)


def _next(path: str) -> str:
    safe = path.startswith(f"{PREFIX}/") and not path.startswith("//") and "\\" not in path
    return path if safe and not path.startswith(f"{PREFIX}/login") else f"{PREFIX}/runs"


router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "") -> Response:  # noqa: A002 - the query
    return _form_page(request, "login.html", next=_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",  # noqa: A002 - the form's field
) -> Response:
    if not _form_ok(request, csrf):
        raise CsrfRefused
    users = running(request).users
    user = await asyncio.to_thread(users.login, name.strip(), password)
    if user is None:
        locked = await asyncio.to_thread(users.locked, name.strip())
        error = "login_locked" if locked else "login_failed"
        return _form_page(request, "login.html", 401, error=error, name=name, next=_next(next))
    return await _signed_in(request, user.name, _next(next))


async def _signed_in(request: Request, name: str, target: str) -> Response:
    service = running(request)
    hours = service.settings.console_session_hours
    token, _ = await asyncio.to_thread(service.users.open_session, name, hours * 3600)
    await asyncio.to_thread(service.audit.record, Actor(name, Via.CONSOLE), AuditAction.LOGIN)
    response = redirect(target)
    _set(response, request, SESSION_COOKIE, token, int(hours * 3600))
    response.delete_cookie(FORM_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request, session: Checked) -> Response:
    service = running(request)
    await asyncio.to_thread(service.users.close_session, request.cookies.get(SESSION_COOKIE, ""))
    await asyncio.to_thread(service.audit.record, actor(session), AuditAction.LOGOUT)
    response = redirect(f"{PREFIX}/login")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/welcome", response_class=HTMLResponse)
async def welcome_form(request: Request, token: str = "") -> Response:
    user = await asyncio.to_thread(running(request).users.invited, token)
    if user is None:
        return page(request, "message.html", 404, title="link_invalid", text="link_invalid")
    return _form_page(request, "welcome.html", user=user, token=token)


@router.post("/welcome", response_class=HTMLResponse)
async def welcome(
    request: Request,
    token: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if not _form_ok(request, csrf):
        raise CsrfRefused
    users = running(request).users
    user = await asyncio.to_thread(users.invited, token)
    if user is None:
        return page(request, "message.html", 404, title="link_invalid", text="link_invalid")
    if password != password_again:
        return _form_page(
            request, "welcome.html", 400, user=user, token=token, error="passwords_differ"
        )
    try:
        await asyncio.to_thread(users.accept_invite, token, password)
    except UsageError:
        return _form_page(
            request, "welcome.html", 400, user=user, token=token, error="password_rule"
        )
    return await _signed_in(request, user.name, f"{PREFIX}/runs")


async def login_required(request: Request, err: Exception) -> Response:
    assert isinstance(err, LoginRequired)  # noqa: S101 - registered for this type only
    if request.method != "GET":
        return page(request, "message.html", 401, title="login", text="csrf_failed")
    return redirect(f"{PREFIX}/login?next={quote(err.next_path)}")


async def csrf_refused(request: Request, _err: Exception) -> Response:
    return page(request, "message.html", 403, title="forbidden", text="csrf_failed")
