"""A tiny real token endpoint on loopback, for tests that span processes."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qs

from tests.fortnox.conftest import jwt


class TokenServer:
    """Counts token requests; refresh tokens are single use and rotated, like Fortnox's."""

    def __init__(self, first_refresh_token: str) -> None:
        self.valid = {first_refresh_token}
        self.requests = 0
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/oauth-v1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, form: dict[str, list[str]]) -> tuple[int, dict[str, object]]:
        with self.lock:
            self.requests += 1
            presented = form.get("refresh_token", [""])[0]
            if presented not in self.valid:
                self.valid.clear()  # reuse revokes the grant, as Fortnox does
                return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
            self.valid.discard(presented)
            fresh = f"rt-{self.requests}"
            self.valid.add(fresh)
            return 200, {
                "access_token": jwt(jti=str(self.requests)),
                "refresh_token": fresh,
                "expires_in": 3600,
                "token_type": "bearer",
                "scope": "bookkeeping",
            }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                status, body = server._answer(form)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: object) -> None:
                return

        return Handler
