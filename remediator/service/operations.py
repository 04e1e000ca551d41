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


@router.get(
    "/healthz",
    responses={
        200: {
            "description": "ok; or degraded: runs stuck in running (`runs.stuck`), or the "
            "daily jobs' scheduler stopped (`scheduler`)."
        },
        503: {
            "description": "Database unreachable, workers or callbacks down, or a secret key "
            "that does not decrypt the stored tokens (`secret_key`).",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def healthz(running: Running) -> JSONResponse:
    """200 when the database answers and every worker is alive (``status`` ``ok``, or
    ``degraded`` while runs are stuck in ``running`` longer than ``stuck_run_seconds``),
    else 503 (``unavailable``)."""
    status, checks = await running.healthy()
    code = 503 if status == "unavailable" else 200
    return JSONResponse({"status": status} | checks, status_code=code)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(running: Running) -> PlainTextResponse:
    """Prometheus text format."""
    text = await asyncio.to_thread(running.metrics.render)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
