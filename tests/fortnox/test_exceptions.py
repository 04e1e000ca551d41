"""The connector's errors: which token errors a later try may get past."""

from __future__ import annotations

import pytest

from remediator.fortnox import ConsentRequired, TokenError


@pytest.mark.parametrize(
    ("error", "status", "transient"),
    [
        (None, None, True),  # no usable answer: a network error, a malformed body
        (None, 502, True),
        ("http_error", 503, True),
        ("refresh_token_missing", None, True),  # the refresh token presented is still good
        ("lock_timeout", None, True),
        ("lock_lost", None, True),
        ("invalid_client", 401, False),  # the remediator's own setup: no retry fixes it
        ("unsupported_grant_type", 400, False),
        ("no_tenant", None, False),
        ("store_failed", None, False),  # the rotated token is lost: a person reconnects
    ],
)
def test_a_token_error_is_transient_only_when_the_same_refresh_may_succeed_later(
    error: str | None, status: int | None, *, transient: bool
) -> None:
    assert TokenError("refused", error=error, status=status).transient is transient


def test_consent_required_is_never_transient() -> None:
    assert ConsentRequired("dead", error="invalid_grant", status=400).transient is False
