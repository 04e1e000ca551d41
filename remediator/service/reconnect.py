"""The OAuth reconnect flow: a consent link with a single-use state, and Fortnox's redirect back.

``GET /v1/connections/{id}/authorize`` (api token) redirects to Fortnox's consent page with a
fresh ``state`` bound to the connection (or answers it as JSON for ``Accept: application/json``).
``GET /oauth/callback`` is where Fortnox sends the person's browser back: the state is used up,
the code exchanged, the tokens stored, the connection marked active, and the runs that waited
for the reconnect are queued again.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from remediator.fortnox import TokenError
from remediator.service.logs import ids
from remediator.service.schemas import Authorize, Problem
from remediator.service.security import require_token, service
from remediator.service.wiring import Service
from remediator.storage import ConnectionKind
from remediator.storage.oauth_states import InvalidStateError

log = logging.getLogger(__name__)
router = APIRouter(tags=["reconnect"])
Running = Annotated[Service, Depends(service)]


def _page(status: int, sv: str, en: str) -> HTMLResponse:
    body = (
        "<!doctype html><html lang=sv><meta charset=utf-8><title>Fortnox</title>"
        f"<p>{html.escape(sv)}</p><p lang=en>{html.escape(en)}</p></html>"
    )
    return HTMLResponse(body, status_code=status)


@router.get(
    "/v1/connections/{connection_id}/authorize",
    dependencies=[Depends(require_token)],
    response_model=Authorize,
    status_code=302,
    responses={
        200: {"model": Authorize, "description": "With Accept: application/json."},
        302: {"description": "To Fortnox's consent page."},
        404: {"model": Problem},
    },
)
async def authorize(connection_id: str, request: Request, running: Running) -> Response:
    """Start a (re)connect: Fortnox's consent page with a single-use, expiring state."""
    connection = await asyncio.to_thread(running.runtime.store.get, connection_id)
    lifetime = running.settings.oauth_state_seconds
    state = await asyncio.to_thread(running.states.issue, connection_id, lifetime)
    url, _ = running.runtime.connector.authorization_url(
        state, service_account=connection.kind is ConnectionKind.SERVICE_ACCOUNT
    )
    log.info("consent link issued", extra=ids(connection_id=connection_id))
    if "application/json" in request.headers.get("accept", ""):
        expires = datetime.fromtimestamp(time.time() + lifetime, tz=UTC)
        body = Authorize(authorize_url=url, expires_at=expires)
        return JSONResponse(body.model_dump(mode="json"))
    return RedirectResponse(url, status_code=302)


@router.get("/oauth/callback", response_class=HTMLResponse, include_in_schema=True)
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
        tokens = await running.runtime.connector.oauth.exchange_code(code)
    except TokenError as err:
        log.warning("code exchange refused: %s", err.error, extra=fields)
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
    await asyncio.to_thread(store.save_tokens, connection_id, tokens)
    requeued = await asyncio.to_thread(running.queue.requeue_reconnected, connection_id)
    running.wake()
    log.info("connection reconnected; %d run(s) queued again", len(requeued), extra=fields)
    return _page(
        200,
        "Klart: Fortnox är kopplat igen. Du kan stänga fönstret.",
        "Done: Fortnox is connected again. You may close this window.",
    )
