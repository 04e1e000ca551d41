"""The OAuth reconnect flow: a consent link with a single-use state, and Fortnox's redirect back.

``GET /v1/connections/{id}/authorize`` (api token, or the signed reconnect link of a report:
``remediator.links``) redirects to Fortnox's consent page with a fresh ``state`` bound to the
connection (or answers it as JSON for ``Accept: application/json``). A link that is altered or
expired gets a 403 page telling the person to ask for a new one.
``GET /oauth/callback`` is where Fortnox sends the person's browser back: the state is used up,
the code exchanged (an answer without a refresh token is refused), the tokens stored, the
connection marked active, and the runs that waited for the reconnect are queued again; the page
says what happens next to each Z-report that waited (sent again now, or to be exported again
from the Backoffice when the failure carried no voucher).
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from remediator.errors import UnknownConnectionError
from remediator.failure import ExportFailure
from remediator.fortnox import TokenError
from remediator.links import InvalidLinkError
from remediator.owner import learn_owner
from remediator.service.logs import ids
from remediator.service.schemas import Authorize, Problem
from remediator.service.security import bearer, has_token, service, token_required
from remediator.service.texts import reconnected
from remediator.service.wiring import Service
from remediator.storage import ConnectionKind
from remediator.storage.oauth_states import InvalidStateError

log = logging.getLogger(__name__)
router = APIRouter(tags=["reconnect"])
Running = Annotated[Service, Depends(service)]


def _page(status: int, sv: str, en: str) -> HTMLResponse:
    body = (
        "<!doctype html><html lang=sv><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1"><title>Fortnox</title>'
        f"<p>{html.escape(sv)}</p><p lang=en>{html.escape(en)}</p></html>"
    )
    return HTMLResponse(body, status_code=status)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _refused(request: Request, err: InvalidLinkError) -> Response:
    """403 for a link that is altered, signed with another key, or expired: a page the
    restaurant can read (JSON for ``Accept: application/json``)."""
    if err.expired:
        sv = (
            "Länken har gått ut. Be den som skickade den om en ny länk för att koppla Fortnox igen."
        )
        en = "This link has expired. Ask whoever sent it for a new link to reconnect Fortnox."
    else:
        sv = "Länken är ogiltig. Be den som skickade den om en ny länk för att koppla Fortnox igen."
        en = "This link is not valid. Ask whoever sent it for a new link to reconnect Fortnox."
    if _wants_json(request):
        problem = "expired" if err.expired else "invalid"
        return JSONResponse(
            {"detail": str(err), "problems": [f"link: {problem}"], "sv": sv, "en": en},
            status_code=403,
        )
    return _page(403, sv, en)


def _json(model: type[Problem], description: str) -> dict[str, Any]:
    """A JSON answer of a route whose answers are otherwise pages."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _page_or(model: type[Problem], description: str) -> dict[str, Any]:
    """An answer that is a page for a person, or JSON for ``Accept: application/json``."""
    return {
        "description": description,
        "content": {
            "text/html": {"schema": {"type": "string"}},
            "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}},
        },
    }


@router.get(
    "/v1/connections/{connection_id}/authorize",
    status_code=302,
    response_class=Response,
    responses={
        200: {"model": Authorize, "description": "With Accept: application/json."},
        302: {"description": "To Fortnox's consent page."},
        401: {"model": Problem, "description": "Neither the api token nor a reconnect link."},
        403: _page_or(Problem, "A reconnect link that is altered or expired."),
        404: _page_or(Problem, "No such connection."),
    },
)
async def authorize(
    connection_id: str,
    request: Request,
    running: Running,
    *,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    expires: Annotated[str, Query(description="A reconnect link's expiry (unix s).")] = "",
    sig: Annotated[str, Query(description="A reconnect link's signature.")] = "",
) -> Response:
    """Start a (re)connect: Fortnox's consent page with a single-use, expiring state.

    Open with the api token, or with the signed link of a report (``expires`` and ``sig``),
    which is good for this connection only, until it expires."""
    how = "api token"
    if not has_token(running, credentials):
        if not expires and not sig:
            raise token_required()
        try:
            running.runtime.engine.links.verify(connection_id, expires, sig)
        except InvalidLinkError as err:
            reason = "expired" if err.expired else "not valid"
            fields = ids(connection_id=connection_id, status=403)
            log.warning("reconnect link refused: %s", reason, extra=fields)
            return _refused(request, err)
        how = "reconnect link"
    try:
        connection = await asyncio.to_thread(running.runtime.store.get, connection_id)
    except UnknownConnectionError:
        if how == "api token" or _wants_json(request):
            raise
        return _page(
            404,
            "Kopplingen finns inte längre. Kontakta supporten.",
            "The connection no longer exists. Contact support.",
        )
    lifetime = running.settings.oauth_state_seconds
    state = await asyncio.to_thread(running.states.issue, connection_id, lifetime)
    url, _ = running.runtime.connector.authorization_url(
        state, service_account=connection.kind is ConnectionKind.SERVICE_ACCOUNT
    )
    log.info("consent link issued (%s)", how, extra=ids(connection_id=connection_id))
    if _wants_json(request):
        expires_at = datetime.fromtimestamp(time.time() + lifetime, tz=UTC)
        body = Authorize(authorize_url=url, expires_at=expires_at)
        return JSONResponse(body.model_dump(mode="json"))
    return RedirectResponse(url, status_code=302)


@router.get(
    "/oauth/callback",
    response_class=HTMLResponse,
    responses={
        400: {
            "description": "A state unknown, used or expired; consent refused; a code Fortnox "
            "did not take.",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        404: _json(Problem, "The connection is gone."),
        409: {
            "description": "A consent for another Fortnox company.",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        502: _json(Problem, "Fortnox could not be reached."),
    },
)
async def oauth_callback(
    running: Running,
    state: Annotated[str, Query()] = "",
    code: Annotated[str, Query()] = "",
    error: Annotated[str, Query()] = "",
) -> HTMLResponse:
    """Where Fortnox redirects after consent: finish the reconnect."""
    try:
        connection_id = await asyncio.to_thread(running.states.consume, state)
    except InvalidStateError as err:
        return _page(400, "Länken är ogiltig, redan använd eller för gammal.", str(err))
    fields = ids(connection_id=connection_id)
    if error or not code:
        log.warning("consent not given", extra=fields)
        return _page(
            400,
            "Kopplingen godkändes inte i Fortnox. Be om en ny länk och försök igen.",
            "The connection was not approved in Fortnox. Ask for a new link and try again.",
        )
    return await _connect(running, connection_id, code)


async def _connect(running: Service, connection_id: str, code: str) -> HTMLResponse:
    fields = ids(connection_id=connection_id)
    store = running.runtime.store
    before = await asyncio.to_thread(store.get, connection_id)
    try:
        tokens = await running.runtime.connector.exchange(connection_id, code)
    except TokenError as err:
        log.warning("code exchange refused: %s", err.error, extra=fields)
        if err.error == "refresh_token_missing":
            return _page(
                502,
                "Fortnox svarade utan förnyelsenyckel, så inget sparades och kopplingen är som "
                "förut. Be om en ny länk och försök igen; kontakta supporten om det upprepas.",
                "Fortnox answered without a refresh token, so nothing was stored and the "
                "connection is as it was. Ask for a new link and try again; contact support if "
                "it repeats.",
            )
        return _page(
            400,
            "Fortnox godtog inte inloggningen. Be om en ny länk och försök igen.",
            "Fortnox did not accept the sign-in. Ask for a new link and try again.",
        )
    if before.tenant_id and tokens.tenant_id and before.tenant_id != tokens.tenant_id:
        log.warning("consent for another Fortnox company refused", extra=fields)
        return _page(
            409,
            "Inloggningen gällde ett annat Fortnox-företag än restaurangens; inget ändrades.",
            "The sign-in was for another Fortnox company than the restaurant's; nothing changed.",
        )
    # Read before the connection is active: from then on any instance's look-back may queue
    # them again (QueueStore.requeue_reconnected_anywhere) before this does.
    waited = await asyncio.to_thread(running.queue.awaiting_reconnect, connection_id)
    await asyncio.to_thread(store.save_tokens, connection_id, tokens)
    await learn_owner(running.runtime.connector, store, connection_id)
    requeued = await asyncio.to_thread(running.queue.requeue_reconnected, connection_id)
    running.wake()
    resumed = waited + [run_id for run_id in requeued if run_id not in waited]
    log.info("connection reconnected; %d run(s) queued again", len(resumed), extra=fields)
    failures = [await asyncio.to_thread(_failure, running, run_id) for run_id in resumed]
    page = reconnected(failures)
    return _page(200, page.sv, page.en)


def _failure(running: Service, run_id: str) -> ExportFailure:
    return ExportFailure.model_validate_json(running.queue.queued(run_id).failure)
