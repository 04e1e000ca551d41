"""Signatures: valid, wrong secret, stale timestamp, altered body, missing or malformed header."""

from __future__ import annotations

import pytest

from remediator.signing import SignatureError, sign, verify

BODY = b'{"event_id": "e1"}'


def test_a_valid_signature_passes_and_returns_its_timestamp() -> None:
    header = sign(BODY, "s3cret", timestamp=1_700_000_000)
    assert verify(header, BODY, "s3cret", now=1_700_000_100) == 1_700_000_000


@pytest.mark.parametrize(
    ("header", "body", "secret", "now", "message"),
    [
        (sign(BODY, "other", 1000), BODY, "s3cret", 1000, "does not match"),
        (sign(BODY, "s3cret", 1000), BODY + b" ", "s3cret", 1000, "does not match"),
        (sign(BODY, "s3cret", 1000), BODY, "s3cret", 1301, "more than 300 s"),
        (sign(BODY, "s3cret", 1000), BODY, "s3cret", 699, "more than 300 s"),
        (None, BODY, "s3cret", 1000, "missing"),
        ("", BODY, "s3cret", 1000, "missing"),
        ("v1=abc", BODY, "s3cret", 1000, "malformed"),
        ("t=1000", BODY, "s3cret", 1000, "malformed"),
        ("t=soon,v1=abc", BODY, "s3cret", 1000, "malformed"),
    ],
    ids=[
        "wrong-secret",
        "altered-body",
        "stale",
        "future",
        "none",
        "empty",
        "no-t",
        "no-v1",
        "bad-t",
    ],
)
def test_bad_signatures_are_refused(
    header: str | None, body: bytes, secret: str, now: float, message: str
) -> None:
    with pytest.raises(SignatureError, match=message):
        verify(header, body, secret, now=now)


def test_one_of_several_signatures_may_match_during_secret_rotation() -> None:
    good = sign(BODY, "new", 1000).split(",")[1]
    assert verify(f"t=1000,v1=deadbeef,{good}", BODY, "new", now=1000) == 1000
