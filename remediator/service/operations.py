"""``/healthz`` and ``/metrics``: for the operators' probes and Prometheus."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse

from remediator.service.metrics import CONTENT_TYPE
from remediator.service.security import service
from remediator.service.wiring import Service

router = APIRouter(tags=["operations"])
Running = Annotated[Service, Depends(service)]


@router.get("/healthz", responses={503: {"description": "Database unreachable or workers down."}})
async def healthz(running: Running) -> JSONResponse:
    """200 when the database answers and every worker is alive, else 503."""
    ok, checks = await running.healthy()
    return JSONResponse(
        {"status": "ok" if ok else "unavailable"} | checks, status_code=200 if ok else 503
    )


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(running: Running) -> PlainTextResponse:
    """Prometheus text format."""
    text = await asyncio.to_thread(running.metrics.render)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
