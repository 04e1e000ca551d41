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


@pytest.mark.parametrize(
    "header",
    [
        "t=²,v1=00",  # a superscript digit: str.isdigit() says yes, int() says no
        "t=١٠٠٠,v1=00",  # Arabic-Indic digits: int() reads them, they are no unix time
        f"t={'9' * 400},v1=00",  # OverflowError when compared with a float
        f"t={'9' * 5000},v1=00",  # beyond int()'s 4300-digit limit
        "t=1000,v1=é0",  # compare_digest refuses non-ASCII str
        "t=1000,v1=\ud800",  # a lone surrogate
        "t=1000,v1=" + "a" * 10_000,
    ],
    ids=[
        "superscript",
        "arabic-digits",
        "400-digits",
        "5000-digits",
        "non-ascii-v1",
        "surrogate",
        "long-v1",
    ],
)
def test_hostile_headers_are_refused_not_crashed_on(header: str) -> None:
    with pytest.raises(SignatureError):
        verify(header, BODY, "s3cret", now=1000.5)
