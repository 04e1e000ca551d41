"""Hypothesis strategies for what reaches the intake: export failures (valid, damaged, hostile)
as the raw bytes sent, and the signature header."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from remediator import signing
from tests.service.conftest import MESSAGES

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# What one generated text can hold: any code point, a lone surrogate included.
TEXT = st.text(st.characters(codec=None), max_size=40)
DATES = st.dates().map(str) | st.sampled_from(["2026-02-30", "yesterday", "", "2026-3-1"])

# Bodies seen to break services: each is sent as it is, or in the middle of a valid failure.
HOSTILE = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"[" * 100_000,
    b'"\\ud800"',
    b'"\xed\xa0\x80"',
    b'"\\udfff\\ud800"',
    b"NaN",
    b"-Infinity",
    b"1e999",
    b"9" * 5000,
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
    b"",
    b"null",
    b"\x00",
    b"[" + b"0," * 600_000 + b"0]",  # past max_body_bytes (1 MiB): 413
]
# Where a value of a valid failure is replaced, dropped, or added to.
PATHS = [
    ("event_id",),
    ("restaurant",),
    ("restaurant", "id"),
    ("restaurant", "name"),
    ("connection_id",),
    ("export",),
    ("export", "kind"),
    ("export", "id"),
    ("export", "date"),
    ("export", "voucher_series"),
    ("export", "voucher"),
    ("error",),
    ("error", "message"),
    ("error", "code"),
    ("error", "http_status"),
    ("error", "body"),
    ("callback_url",),
]


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def valid_failures(draw: st.DrawFn, template: dict[str, Any]) -> dict[str, Any]:
    """A failure intake accepts: the template's restaurant, connection and voucher, with the
    rest drawn (known messages mostly, so runs go through playbooks)."""
    body: dict[str, Any] = json.loads(json.dumps(template))
    body["event_id"] = draw(st.text(min_size=1, max_size=30).filter(str.strip))
    body["export"]["date"] = str(draw(st.dates()))
    body["export"]["id"] = "z-" + draw(st.text("abc123", min_size=1, max_size=8))
    if draw(st.booleans()):
        del body["export"]["voucher"]
    body["error"] = {
        "message": draw(st.sampled_from(sorted(MESSAGES.values())) | st.text(max_size=60)),
        "code": draw(st.none() | st.integers(0, 9_999_999)),
        "http_status": draw(st.none() | st.integers(100, 599)),
        "body": draw(st.none() | JSON | st.builds(_nested, st.integers(1, 28))),
    }
    return body


@st.composite
def damaged(draw: st.DrawFn, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with a few values replaced by any JSON or text, dropped, or added to."""
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = body
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        action = draw(st.sampled_from(["replace", "drop", "extra", "text", "deep"]))
        if action == "drop":
            parent.pop(path[-1], None)
        elif action == "extra":
            parent[draw(st.text(max_size=8))] = draw(JSON)
        elif action == "text":
            parent[path[-1]] = draw(TEXT | DATES)
        elif action == "deep":
            parent[path[-1]] = _nested(draw(st.integers(25, 400)))
        else:
            parent[path[-1]] = draw(JSON)
    return body


def _encoded(body: Any, ascii_only: bool) -> bytes:
    try:
        return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    except RecursionError:  # deeper than json.dumps goes: made by hand
        return b"[" * 1000 + b"]" * 1000


@st.composite
def raw_bodies(draw: st.DrawFn, template: dict[str, Any]) -> bytes:
    """What a client may send as the body: a valid failure, a damaged one, bytes cut or
    spliced into one, or a known hostile body."""
    body = draw(valid_failures(template))
    kind = draw(st.sampled_from(["valid", "damaged", "damaged", "spliced", "hostile"]))
    if kind == "hostile":
        return draw(st.sampled_from(HOSTILE))
    if kind == "damaged":
        body = draw(damaged(body))
    raw = _encoded(body, draw(st.booleans()))
    if kind == "spliced":
        at = draw(st.integers(0, len(raw)))
        cut = draw(st.integers(0, 20))
        insert = draw(st.sampled_from(HOSTILE[3:]) | st.binary(max_size=12))
        raw = raw[:at] + insert + raw[at + cut :]
    return raw


STAMPS = (
    st.integers(0, 10**12).map(str)
    | st.text("0123456789²³¹١٠٫", min_size=1, max_size=12)
    | st.integers(1, 6000).map(lambda n: "9" * n)
)
MACS = st.text("0123456789abcdefABCDEF", max_size=70) | TEXT


@st.composite
def signature_headers(draw: st.DrawFn, raw: bytes, secret: str) -> bytes:
    """A signature header as bytes on the wire: valid, off by a little, or anything."""
    valid = signing.sign(raw, secret)
    kind = draw(st.sampled_from(["valid", "stamp", "mac", "parts", "anything"]))
    if kind == "valid":
        return valid.encode()
    if kind == "anything":
        return draw(st.binary(max_size=200).filter(lambda b: b"\r" not in b and b"\n" not in b))
    stamp, mac = valid.split(",")
    if kind == "stamp":
        stamp = "t=" + draw(STAMPS)
    elif kind == "mac":
        mac = "v1=" + draw(MACS)
    else:
        parts = draw(st.lists(st.sampled_from([stamp, mac, "v1=", "t=", "v0=ab", ",", " "])))
        return ",".join(parts).encode()
    header = f"{stamp},{mac}" if draw(st.booleans()) else f"{mac},{stamp}"
    return header.encode("utf-8", "surrogatepass")
