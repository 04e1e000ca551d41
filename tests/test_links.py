"""Reconnect links: signed for one connection until they expire; anything altered is refused."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from remediator.links import DERIVATION_LABEL, InvalidLinkError, ReconnectLinks, link_key
from remediator.runtime import reconnect_links
from remediator.settings import Settings
from remediator.storage import TokenCipher

KEY = b"link-key-for-tests"
NOW = 1_800_000_000.0
LINKS = ReconnectLinks("https://remediator.example/", KEY, lifetime=3600)


def parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path, query["expires"][0], query["sig"][0]


def test_a_link_names_the_connection_and_signs_it_with_its_expiry() -> None:
    url = LINKS.url("rest-1", now=NOW)
    path, expires, sig = parts(url)
    assert url.startswith("https://remediator.example/v1/connections/rest-1/authorize?expires=")
    assert path == "/v1/connections/rest-1/authorize"
    assert expires == str(int(NOW) + 3600)
    assert re.fullmatch(r"[0-9a-f]{64}", sig)
    expected = hmac.new(KEY, f"rest-1.{expires}".encode(), hashlib.sha256).hexdigest()
    assert sig == expected  # the documented format: HMAC-SHA256(key, "<id>.<expires>")
    assert LINKS.verify("rest-1", expires, sig, now=NOW) == int(expires)
    assert LINKS.verify("rest-1", expires, sig.upper(), now=NOW + 3599) == int(expires)


def test_an_id_that_needs_quoting_is_quoted_in_the_path_and_signed_as_it_is() -> None:
    path, expires, sig = parts(LINKS.url("Café 1/a.b", now=NOW))
    assert path == "/v1/connections/Caf%C3%A9%201%2Fa.b/authorize"
    assert LINKS.verify("Café 1/a.b", expires, sig, now=NOW)


@pytest.mark.parametrize(
    ("connection_id", "change"),
    [
        ("rest-2", lambda e, s: (e, s)),  # another connection's id
        ("rest-1", lambda e, s: (str(int(e) + 86400), s)),  # a later expiry
        ("rest-1", lambda e, s: (str(int(e) - 1), s)),  # any other expiry
        ("rest-1", lambda e, s: (e, s[:-1] + ("0" if s[-1] != "0" else "1"))),
        ("rest-1", lambda e, s: (e, s[:32])),  # shortened
        ("rest-1", lambda e, _: (e, "")),
        ("rest-1", lambda _, s: ("", s)),
        ("rest-1", lambda e, s: (f"{e}.5", s)),
        ("rest-1", lambda e, s: (f"-{e}", s)),
        ("rest-1", lambda _, s: ("١٢٣", s)),  # digits, but not ASCII ones
        ("rest-1.1", lambda e, s: (e.removeprefix("1"), s)),  # the dot moved
    ],
)
def test_an_altered_link_is_refused(
    connection_id: str, change: Callable[[str, str], tuple[str, str]]
) -> None:
    _, expires, sig = parts(LINKS.url("rest-1", now=NOW))
    expires, sig = change(expires, sig)
    with pytest.raises(InvalidLinkError) as refused:
        LINKS.verify(connection_id, expires, sig, now=NOW)
    assert refused.value.expired is False


def test_a_link_signed_with_another_key_is_refused() -> None:
    _, expires, sig = parts(
        ReconnectLinks("https://x", b"another key", 3600).url("rest-1", now=NOW)
    )
    with pytest.raises(InvalidLinkError, match="not valid"):
        LINKS.verify("rest-1", expires, sig, now=NOW)


def test_a_link_expires() -> None:
    _, expires, sig = parts(LINKS.url("rest-1", now=NOW))
    with pytest.raises(InvalidLinkError, match="expired") as refused:
        LINKS.verify("rest-1", expires, sig, now=NOW + 3600)
    assert refused.value.expired is True
    # an expired link whose expiry was moved on is altered, not expired
    with pytest.raises(InvalidLinkError, match="not valid"):
        LINKS.verify("rest-1", str(int(expires) + 3600), sig, now=NOW + 3600)


def test_the_key_is_the_link_secret_or_derived_from_the_encryption_key() -> None:
    fernet = Fernet.generate_key()
    cipher = TokenCipher(fernet)
    derived = link_key("", cipher)
    assert derived == hmac.new(fernet, DERIVATION_LABEL, hashlib.sha256).digest()
    assert derived not in (fernet, b"")
    assert link_key("", TokenCipher(fernet)) == derived  # the same key in every process
    assert link_key("", TokenCipher(Fernet.generate_key())) != derived
    assert link_key("dedicated", cipher) == b"dedicated"
    assert "dedicated" not in repr(ReconnectLinks("https://x", b"dedicated"))
    with pytest.raises(ValueError, match="signing key"):
        ReconnectLinks("https://x", b"")


def test_two_doors_with_the_same_settings_write_links_the_other_accepts(tmp_path: Path) -> None:
    settings = Settings(
        secret_key=SecretStr(Fernet.generate_key().decode()),
        key_file=tmp_path / "unused.key",
        public_url="https://remediator.example",
        reconnect_link_seconds=120,
    )
    cli = reconnect_links(settings, TokenCipher(settings.secret_key.get_secret_value().encode()))
    service = reconnect_links(
        settings, TokenCipher(settings.secret_key.get_secret_value().encode())
    )
    _, expires, sig = parts(cli.url("rest-1", now=NOW))
    assert int(expires) == int(NOW) + 120
    assert service.verify("rest-1", expires, sig, now=NOW)
    dedicated = reconnect_links(
        settings.model_copy(update={"link_secret": SecretStr("s")}),
        TokenCipher(settings.secret_key.get_secret_value().encode()),
    )
    with pytest.raises(InvalidLinkError):
        dedicated.verify("rest-1", expires, sig, now=NOW)
