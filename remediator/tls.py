"""The TLS context this process verifies servers with: made once, shared by every client."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def verifying() -> ssl.SSLContext:
    """httpx's default context (certifi's authorities, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``
    as httpx reads them), made at first use. Loading the authorities took 53 ms a time on a
    2-CPU machine, and a service made four contexts at its start (the API's, the token
    endpoint's, the callbacks' and the Backoffice's), as did every CLI command that talks to
    Fortnox. A context may be shared by clients, threads and event loops."""
    return httpx.create_ssl_context()
