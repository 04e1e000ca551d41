"""The process's one TLS context: shared, and verifying servers."""

from __future__ import annotations

import ssl

from remediator.tls import verifying


def test_every_client_shares_one_context_that_verifies_servers() -> None:
    context = verifying()
    assert verifying() is context
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
