"""The baseline for the intake benchmark: an endpoint that only answers 202, on the same server
(uvicorn, as ``remediator serve`` runs it), reading the body and nothing else.

Run: ``python -m bench._bare PORT``.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def accept(request: Request) -> Response:
    await request.body()
    return JSONResponse({"state": "queued"}, status_code=202)


async def ok(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/v1/failures", accept, methods=["POST"]),
        Route("/v1/connections/{connection_id}", ok, methods=["PUT"]),
        Route("/healthz", ok),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
