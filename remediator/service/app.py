"""The FastAPI app of ``remediator serve``: routes, error answers, lifespan and OpenAPI."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remediator import __version__
from remediator.console import mount_console
from remediator.errors import (
    RefreshTokenOwned,
    RemediatorError,
    UnknownConnectionError,
    UsageError,
)
from remediator.failure import ExportFailure, InvalidFailure
from remediator.fortnox import ConsentRequired, FortnoxError
from remediator.service import connections, intake, operations, reconnect, runs
from remediator.service.checked import ProblemResponse
from remediator.service.docs import mount_docs
from remediator.service.logs import ids, noted
from remediator.service.security import BodyTooLarge
from remediator.service.wiring import Service, open_service
from remediator.settings import Settings
from remediator.storage.queue import RunConflictError
from remediator.storage.runs import UnknownRunError

log = logging.getLogger("remediator.service")
DESCRIPTION = """The Backoffice reports failed Z-report exports here (signed intake); workers fix
what policy allows, leave the rest as plans to review, and report back (poll or signed callback).
See docs/service.md."""


def _problem(
    status: int,
    detail: str,
    problems: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"detail": detail, "problems": problems or []}
    return ProblemResponse(body, status_code=status, headers=headers)


async def _invalid_failure(_request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, InvalidFailure)  # noqa: S101 - registered for this type only
    return _problem(422, "the body is not a valid export failure", err.problems)


async def _unknown_connection(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, UnknownConnectionError)  # noqa: S101 - registered for this type only
    if request.url.path != "/v1/failures":
        return _problem(404, str(err))
    problem = (
        f"connection_id: {err.connection_id!r} is not a known connection "
        f"(register it first: PUT /v1/connections/{err.connection_id})"
    )
    return _problem(422, "unknown connection_id", [problem])


async def _not_found(_request: Request, err: Exception) -> JSONResponse:
    return _problem(404, str(err))


async def _conflict(_request: Request, err: Exception) -> JSONResponse:
    return _problem(409, str(err))


async def _consent(_request: Request, err: Exception) -> JSONResponse:
    return _problem(409, f"the connection must be authorized again: {err}")


async def _fortnox(_request: Request, err: Exception) -> JSONResponse:
    return _problem(502, f"Fortnox could not be used: {err}")


async def _usage(_request: Request, err: Exception) -> JSONResponse:
    return _problem(400, str(err))


async def _remediator(_request: Request, err: Exception) -> JSONResponse:
    log.error("request failed: %s", type(err).__name__)
    return _problem(500, str(err))


async def _database(_request: Request, err: Exception) -> JSONResponse:
    """The database refused or did not answer (a restart, a full disk, a lost connection):
    503, so that the caller sends the request again (a repeated event is answered with its
    run), not a bare 500."""
    log.error("the database failed a request: %s", type(err).__name__)
    return _problem(
        503, "the database did not answer: send the request again", headers={"Retry-After": "5"}
    )


async def _unstorable(_request: Request, err: Exception) -> JSONResponse:
    """The database refused a value as it is (a NUL character, a value too long or out of
    range): sending it again changes nothing, so not the 503 of an outage."""
    log.warning("the database refused a value of a request: %s", type(err).__name__)
    return _problem(422, "the request is not valid", [_UNSTORABLE])


_UNSTORABLE = (
    "a value of the request is one the database cannot take as it is (a NUL character, "
    "a value too long)"
)


async def _too_large(_request: Request, err: Exception) -> JSONResponse:
    return _problem(413, str(err))


async def _http(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, HTTPException)  # noqa: S101 - registered for this type only
    headers = err.headers
    allowed = _allowed(request) if err.status_code == HTTPStatus.METHOD_NOT_ALLOWED else None
    if allowed is not None:
        headers = {**(headers or {}), "Allow": allowed}
    return _problem(err.status_code, str(err.detail), headers=headers)


def _allowed(request: Request) -> str | None:
    """Every method the request's path answers, from the OpenAPI document: starlette's 405
    names only those of the first route on the path (``PUT`` for a connection, which answers
    ``GET`` too). ``None`` for a path the document does not describe (the console's)."""
    path = request.scope["path"]
    methods = {
        method.upper()
        for template, operations in request.app.openapi()["paths"].items()
        if compile_path(template)[0].match(path)
        for method in operations
    }
    return ", ".join(sorted(methods)) if methods else None


def _described(error: Any) -> str:
    if error["type"] == "json_invalid":  # from CheckedRequest.json: the problem is its text
        return f"body: {error.get('ctx', {}).get('error', error['msg'])}"
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"


async def _validation(_request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)  # noqa: S101 - registered for this type only
    return _problem(422, "the request is not valid", [_described(e) for e in err.errors()])


HANDLERS: list[tuple[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]]] = [
    (InvalidFailure, _invalid_failure),
    (UnknownConnectionError, _unknown_connection),
    (UnknownRunError, _not_found),
    (RunConflictError, _conflict),
    (RefreshTokenOwned, _conflict),
    (ConsentRequired, _consent),
    (FortnoxError, _fortnox),
    (UsageError, _usage),
    (RemediatorError, _remediator),
    (DataError, _unstorable),
    (SQLAlchemyError, _database),
    (BodyTooLarge, _too_large),
    (HTTPException, _http),
    (RequestValidationError, _validation),
]


REQUEST_ID = "x-request-id"
_REQUEST_ID_HEADER = REQUEST_ID.encode()
_REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is a plain token, otherwise a new one."""
    for name, value in scope.get("headers", []):
        if name == _REQUEST_ID_HEADER:
            given = str(value.decode("latin-1"))
            if _REQUEST_ID_SHAPE.fullmatch(given):
                return given
    return secrets.token_hex(8)


class RequestLog:
    """Logs every request once it is answered, refused ones (401, 413, 422…) included: method,
    path (never the query), status, duration and request id, and the ids the route left with
    ``logs.note`` (intake's run, event and connection); never a header or a body. The request
    id is answered in ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        status: list[int] = []
        scope.setdefault("state", {})  # shared with the route's copies of scope (logs.note)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                headers = [*message.get("headers", []), (_REQUEST_ID_HEADER, rid.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            fields = ids(
                method=scope["method"],
                path=scope["path"],
                status=status[0] if status else 500,
                duration_ms=elapsed,
                request_id=rid,
            ) | noted(scope)
            answer = status[0] if status else "no answer"
            log.info(
                "%s %s %s %.1f ms", scope["method"], scope["path"], answer, elapsed, extra=fields
            )


class ServiceApp(FastAPI):
    """The service's app. The Backoffice's intake (``intake.is_intake``), its busiest route,
    is answered before the framework's middleware and router: logged by ``RequestLog`` as every
    request is, and its refusals answered by the same ``HANDLERS``; an error none of them takes
    reaches the server, which answers 500 (as the framework's outermost middleware would). The
    route stays in the router, which describes it in the OpenAPI document and answers what
    ``is_intake`` does not take (another method, a trailing slash).

    Measured with ``bench.intake --instances 2``: the framework's stack between the server and
    the route was about a fifth of an instance's CPU per intake."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._intake = RequestLog(self._answer_intake)
        self._refuse_nul = RequestLog(_nul_in_address)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if intake.is_intake(scope):
            await self._intake(scope, receive, send)
        elif _holds_nul(scope):
            await self._refuse_nul(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def _answer_intake(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self  # ``request.app``, as the framework sets it
        request = Request(scope, receive)
        try:
            response = await intake.report_failure(request)
        except Exception as err:  # noqa: BLE001 - answered by its handler, or raised again
            response = await _handled(request, err)
        await response(scope, receive, send)


def _holds_nul(scope: Scope) -> bool:
    """Whether the request's path or query holds a NUL character (``%00``; the server refuses
    a raw one): no identifier the remediator stores can hold one (PostgreSQL's text cannot)."""
    return scope["type"] == "http" and (
        "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")
    )


async def _nul_in_address(scope: Scope, receive: Receive, send: Send) -> None:
    problem = "the request's address holds a NUL character (%00), which no identifier holds"
    await _problem(422, "the request is not valid", [problem])(scope, receive, send)


_HANDLED = dict(HANDLERS)


async def _handled(request: Request, err: Exception) -> Response:
    """``err`` answered by its handler (the nearest of its classes), or raised again."""
    for cls in type(err).__mro__:
        handler = _HANDLED.get(cls)
        if handler is not None:
            return await handler(request, err)
    raise err


def _problems_for_422(schema: dict[str, Any]) -> None:
    """Every 422 is answered as a ``Problem`` (``_validation``), not as FastAPI's own body."""
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operation in (op for path in schema["paths"].values() for op in path.values()):
        answer = operation.get("responses", {}).get("422")
        if answer is not None:
            answer["content"] = problem
    components = schema["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            failure = ExportFailure.model_json_schema(
                by_alias=True, ref_template="#/components/schemas/{model}"
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(failure.pop("$defs", {}))
            components["ExportFailure"] = failure
            _problems_for_422(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    return build


def create_app(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    callback_transport: httpx.AsyncBaseTransport | None = None,
    backoffice_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The service's app; workers, callbacks and the scheduler run while the app's lifespan
    does."""
    running = open_service(
        settings,
        transport=transport,
        callback_transport=callback_transport,
        backoffice_transport=backoffice_transport,
        clock=clock,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await running.start()
        log.info("service started", extra=ids(state="started"))
        try:
            yield
        finally:
            await running.stop()

    app = ServiceApp(
        title="fortnox-remediator",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = running
    for router in (intake.router, runs.router, connections.router, reconnect.router):
        app.include_router(router)
    app.include_router(operations.router)
    for exc_type, handler in HANDLERS:
        app.add_exception_handler(exc_type, handler)
    mount_docs(app)
    mount_console(app)
    app.add_middleware(RequestLog)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


__all__ = ["Service", "create_app"]
