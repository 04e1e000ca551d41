"""Recognising errors: real texts from REFERENCE.md and DESIGN.md, and texts that must not match.

Codes are decisive first, then OAuth errors, then message patterns (Swedish and English, any
case, with or without "Fel vid export:", straight or typographic quotes, trailing periods),
then fallback codes and HTTP statuses; anything else is ``unrecognized``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from remediator.catalogue import Catalogue, load_catalogue, normalise
from remediator.failure import ExportFailure
from remediator.kinds import SHIPPED_PLAYBOOK_KINDS, ErrorKind, Kind
from remediator.playbook import DEFAULT_DIR, PlaybookError, load_playbooks
from tests.shipped import shipped_kinds

K = ErrorKind


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


# (message, expected kind, expected params). Matched by message alone, no code or status.
MESSAGES: list[tuple[str, Kind, dict[str, str]]] = [
    # 1. series not open for manual entry
    (
        "Fel vid export: Verifikationsserien är inte manuell (F)",
        K.SERIES_NOT_MANUAL,
        {"series": "F"},
    ),
    ("Verifikationsserien är inte manuell (F)", K.SERIES_NOT_MANUAL, {"series": "F"}),
    (
        "fel vid export:   VERIFIKATIONSSERIEN   är inte  manuell (f).",
        K.SERIES_NOT_MANUAL,
        {"series": "F"},
    ),
    (
        "FEL VID EXPORT : verifikationsserien är inte manuell (K)",
        K.SERIES_NOT_MANUAL,
        {"series": "K"},
    ),
    ("Verifikationsserien är inte manuell (F - Kassa)", K.SERIES_NOT_MANUAL, {"series": "F"}),
    ('Verifikationsserien "F" är inte manuell', K.SERIES_NOT_MANUAL, {"series": "F"}),
    ("Verifikationsserien “F - Kassa” är inte manuell.", K.SERIES_NOT_MANUAL, {"series": "F"}),
    ("Verifikationsserien är inte manuell", K.SERIES_NOT_MANUAL, {}),
    ("The verification series is not manual (X)", K.SERIES_NOT_MANUAL, {"series": "X"}),
    ("The voucher series is not manual (k).", K.SERIES_NOT_MANUAL, {"series": "K"}),
    (
        "Fel vid export: Verifikationsserien är inte manuell (F)\n",
        K.SERIES_NOT_MANUAL,
        {"series": "F"},
    ),
    # 2. no chart of accounts in the Backoffice
    ("Fel vid export: Ogiltigt konto", K.CHART_OF_ACCOUNTS_MISSING, {}),
    ("Ogiltigt konto", K.CHART_OF_ACCOUNTS_MISSING, {}),
    ("OGILTIGT KONTO.", K.CHART_OF_ACCOUNTS_MISSING, {}),
    ("  Ogiltigt   konto  ", K.CHART_OF_ACCOUNTS_MISSING, {}),
    ("Invalid account", K.CHART_OF_ACCOUNTS_MISSING, {}),
    # 3. inactive account
    ('Fel vid export: Konto "3001" är inte aktivt', K.ACCOUNT_INACTIVE, {"account": "3001"}),
    ("Fel vid export: Konto “3001” är inte aktivt", K.ACCOUNT_INACTIVE, {"account": "3001"}),
    ("Konto „3001” är inte aktivt.", K.ACCOUNT_INACTIVE, {"account": "3001"}),
    ("Konto ”1910” är inte aktivt", K.ACCOUNT_INACTIVE, {"account": "1910"}),
    ("Konto «2611» är inte aktivt", K.ACCOUNT_INACTIVE, {"account": "2611"}),
    ("Konto « 3002 » är inte aktivt", K.ACCOUNT_INACTIVE, {"account": "3002"}),
    ("Konto '3740' är inte aktivt", K.ACCOUNT_INACTIVE, {"account": "3740"}),
    ("Konto ‘1580’ är inte aktivt", K.ACCOUNT_INACTIVE, {"account": "1580"}),
    ("konto 3001 är inte aktivt", K.ACCOUNT_INACTIVE, {"account": "3001"}),
    ('Fel vid export: Kontot "1580" är inte aktivt.', K.ACCOUNT_INACTIVE, {"account": "1580"}),
    ("Kontot 3003 är inaktivt", K.ACCOUNT_INACTIVE, {"account": "3003"}),
    ("Account 3001 is not active", K.ACCOUNT_INACTIVE, {"account": "3001"}),
    ('Account "3740" is inactive.', K.ACCOUNT_INACTIVE, {"account": "3740"}),
    # 4. missing series
    ('Verifikationsserien "F - Kassa" finns inte', K.SERIES_MISSING, {"series": "F"}),
    (
        'Fel vid export: Verifikationsserien "F - Kassa" finns inte.',
        K.SERIES_MISSING,
        {"series": "F"},
    ),
    ("Verifikationsserien “F - Kassa” finns inte", K.SERIES_MISSING, {"series": "F"}),
    ("Verifikationsserien «K - Kassa 2» finns inte", K.SERIES_MISSING, {"series": "K"}),
    ("Verifikationsserien 'F - Kassa' finns inte", K.SERIES_MISSING, {"series": "F"}),
    ("Verifikationsserien F - Kassa finns inte", K.SERIES_MISSING, {"series": "F"}),
    ('verifikationsserien "f" finns inte', K.SERIES_MISSING, {"series": "F"}),
    ("Verifikationsserien F finns inte", K.SERIES_MISSING, {"series": "F"}),
    ("Ogiltig verifikationsserie angiven", K.SERIES_MISSING, {}),
    ('Voucher series "F" does not exist', K.SERIES_MISSING, {"series": "F"}),
    ("The verification series “K - Kassa” does not exist.", K.SERIES_MISSING, {"series": "K"}),
    ("Invalid voucher series", K.SERIES_MISSING, {}),
    # 5. access denied
    ("Access denied", K.ACCESS_DENIED, {}),
    ("Fel vid export: ACCESS DENIED.", K.ACCESS_DENIED, {}),
    ("Saknar behörighet för att bokföra verifikationer", K.ACCESS_DENIED, {}),
    # 6. connection invalidated
    ("Kopplingen har invaliderats av Fortnox", K.CONNECTION_INVALIDATED, {}),
    ("Fel vid export: kopplingen har invaliderats av Fortnox.", K.CONNECTION_INVALIDATED, {}),
    ("Invalid refresh token", K.CONNECTION_INVALIDATED, {}),
    ("The connection has been invalidated", K.CONNECTION_INVALIDATED, {}),
    (
        '{"error":"invalid_grant","error_description":"Invalid refresh token"}',
        K.CONNECTION_INVALIDATED,
        {},
    ),
    # the other kinds
    ("Räkenskapsår saknas för valt datum", K.FINANCIAL_YEAR_MISSING, {}),
    ("Det finns inget räkenskapsår för datumet", K.FINANCIAL_YEAR_MISSING, {}),
    ("No financial year for the date", K.FINANCIAL_YEAR_MISSING, {}),
    ("Bokföringsdatumet ligger i en automatlåst period", K.PERIOD_LOCKED, {}),
    ("Anna Ek har låst perioden t.o.m. 2025-12-31", K.PERIOD_LOCKED, {}),
    ("The period is closed", K.PERIOD_LOCKED, {}),
    ("Har inte behörighet för scope", K.SCOPE_MISSING, {}),
    ("Insufficient scope", K.SCOPE_MISSING, {}),
    ("Det finns ingen aktiv licens för önskat scope", K.LICENSE_MISSING, {}),
    ("Api-licens saknas.", K.LICENSE_MISSING, {}),
    ("Konto saknas i kontoplanen", K.ACCOUNT_MISSING, {}),
    ('Konto "3003" saknas i kontoplanen', K.ACCOUNT_MISSING, {"account": "3003"}),
    ("Kunde inte hitta konto", K.ACCOUNT_MISSING, {}),
    ('Kunde inte hitta kontot "2420"', K.ACCOUNT_MISSING, {"account": "2420"}),
    ("Kan inte hitta kontot.", K.ACCOUNT_MISSING, {}),
    ("Account 3004 does not exist", K.ACCOUNT_MISSING, {"account": "3004"}),
    ("System exception", K.FORTNOX_UNAVAILABLE, {}),
    ("Read timed out", K.FORTNOX_UNAVAILABLE, {}),
    ("Timeout", K.FORTNOX_UNAVAILABLE, {}),
    ("Gateway Timeout", K.FORTNOX_UNAVAILABLE, {}),
    ("Too Many Requests", K.FORTNOX_UNAVAILABLE, {}),
    ("503 Service Temporarily Unavailable", K.FORTNOX_UNAVAILABLE, {}),
    ("<html><body><h1>502 Bad Gateway</h1></body></html>", K.FORTNOX_UNAVAILABLE, {}),
    (
        "<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head></html>",
        K.FORTNOX_UNAVAILABLE,
        {},
    ),
    # invalid login: the connection must be proved or approved again
    ("Ogiltig inloggning", K.CONNECTION_INVALIDATED, {}),
    ("Kan inte logga in", K.CONNECTION_INVALIDATED, {}),
    # cost centre / project dimensions
    (
        "Kostnadsställe är obligatoriskt på konto: 1930",
        K.DIMENSION_INVALID,
        {"account": "1930"},
    ),
    ("Kontot 3001 kräver kostnadsställe", K.DIMENSION_INVALID, {"account": "3001"}),
    ('Angivet kostnadsställe "KS1" är inte aktivt', K.DIMENSION_INVALID, {"cost_centre": "ks1"}),
    ("Angivet kostnadsställe 200 är inte aktivt", K.DIMENSION_INVALID, {"cost_centre": "200"}),
    ("Kostnadsstället är inaktivt", K.DIMENSION_INVALID, {}),
    ("Projekt är obligatoriskt på konto: 3001", K.DIMENSION_INVALID, {"account": "3001"}),
    # the Backoffice's own data
    ("verifikation balanserar ej", K.VOUCHER_INVALID, {}),
    ("Fel vid export: Verifikationen balanserar ej (differens 0,01)", K.VOUCHER_INVALID, {}),
    ("Verifikationen måste innehålla minst två rader.", K.VOUCHER_INVALID, {}),
]

# Fortnox's English texts (accounts whose language is English get English messages): every
# kind, matched by message alone.
ENGLISH: list[tuple[str, Kind, dict[str, str]]] = [
    ("The verification series is not manual (F)", K.SERIES_NOT_MANUAL, {"series": "F"}),
    ("Invalid account", K.CHART_OF_ACCOUNTS_MISSING, {}),
    ("Account 3001 is not active", K.ACCOUNT_INACTIVE, {"account": "3001"}),
    ('The account "2611" is inactive.', K.ACCOUNT_INACTIVE, {"account": "2611"}),
    ('Voucher series "F - Kassa" does not exist', K.SERIES_MISSING, {"series": "F"}),
    ("Invalid verification series", K.SERIES_MISSING, {}),
    ("Access denied", K.ACCESS_DENIED, {}),
    ("You do not have permission to book vouchers", K.ACCESS_DENIED, {}),
    ("The user lacks the right to create vouchers", K.ACCESS_DENIED, {}),
    ("Invalid refresh token", K.CONNECTION_INVALIDATED, {}),
    ("The connection was invalidated by Fortnox", K.CONNECTION_INVALIDATED, {}),
    ("Invalid login", K.CONNECTION_INVALIDATED, {}),
    ("Unable to log in", K.CONNECTION_INVALIDATED, {}),
    ("Financial year is missing for the selected date", K.FINANCIAL_YEAR_MISSING, {}),
    ("No financial year found for 2027-03-02", K.FINANCIAL_YEAR_MISSING, {}),
    ("The financial year does not exist", K.FINANCIAL_YEAR_MISSING, {}),
    ("The period is locked", K.PERIOD_LOCKED, {}),
    ("Anna Ek has locked the period up to 2025-12-31", K.PERIOD_LOCKED, {}),
    ("The transaction date is in an automatically locked period", K.PERIOD_LOCKED, {}),
    ("Missing scope", K.SCOPE_MISSING, {}),
    ("The token does not have access to the scope", K.SCOPE_MISSING, {}),
    ("No active license for the requested scope", K.LICENSE_MISSING, {}),
    ("API licence is missing", K.LICENSE_MISSING, {}),
    ("Account 3004 was not found", K.ACCOUNT_MISSING, {"account": "3004"}),
    ("Could not find account 2420", K.ACCOUNT_MISSING, {"account": "2420"}),
    ("Account 3004 does not exist", K.ACCOUNT_MISSING, {"account": "3004"}),
    ("Service Unavailable", K.FORTNOX_UNAVAILABLE, {}),
    ("Request timed out", K.FORTNOX_UNAVAILABLE, {}),
    ("Cost center is mandatory on account: 1930", K.DIMENSION_INVALID, {"account": "1930"}),
    ("Account 1930 requires a cost centre", K.DIMENSION_INVALID, {"account": "1930"}),
    ('The specified cost center "KS1" is not active', K.DIMENSION_INVALID, {"cost_centre": "ks1"}),
    ("Project is required for account 3001", K.DIMENSION_INVALID, {"account": "3001"}),
    ("The voucher is not balanced", K.VOUCHER_INVALID, {}),
    ("Verification does not balance", K.VOUCHER_INVALID, {}),
    ("A voucher must have at least two rows", K.VOUCHER_INVALID, {}),
]


@pytest.mark.parametrize(("message", "kind", "params"), ENGLISH)
def test_fortnox_english_texts_are_recognised(
    catalogue: Catalogue, message: str, kind: Kind, params: dict[str, str]
) -> None:
    match = catalogue.classify(message)
    assert (match.kind, match.params) == (kind, params)


def test_every_kind_has_an_english_text_in_the_table() -> None:
    assert {kind for _, kind, _ in ENGLISH} == SHIPPED_PLAYBOOK_KINDS


@pytest.mark.parametrize(("message", "kind", "params"), MESSAGES)
def test_message_is_recognised(
    catalogue: Catalogue, message: str, kind: Kind, params: dict[str, str]
) -> None:
    match = catalogue.classify(message)
    assert (match.kind, match.params) == (kind, params)
    assert match.matched_by in ("message", "oauth_error")
    assert match.playbook == kind


# Texts that must NOT be recognised as anything: unrelated errors, validation errors, noise.
UNRELATED = [
    "Ogiltigt kontonummer",
    "Datumet är utanför räkenskapsåret",
    "Kostnadsställen uppdaterade",
    "Projektet är avslutat",
    "Inloggningen lyckades",
    "Verifikationen är bokförd",
    "The account number is invalid",
    "Account 12345 is not active",
    "Cost centre report created",
    "Login successful",
    "The period is open",
    "The voucher balances",
    "Financial year created",
    "Access granted",
    "Scope granted",
    "Licence active",
    "Row 2 has an invalid VAT code",
    "Konto 12345 är inte aktivt",
    "Okänt fel",
    "",
    "   ",
    ".",
    "Fel vid export:",
    "Fel vid export: ",
    '{"message":"unauthorized"}',
    '{"error":"invalid_client","error_description":"Invalid client credentials"}',
]


@pytest.mark.parametrize("message", UNRELATED)
def test_unrelated_text_is_unrecognized(catalogue: Catalogue, message: str) -> None:
    match = catalogue.classify(message)
    assert match.kind == K.UNRECOGNIZED
    assert match.matched_by == "none"
    assert match.playbook is None
    assert match.params == {}


# The code decides, whatever the message says (the message is often empty or generic).
CODES: list[tuple[int, Kind]] = [
    (2001940, K.SERIES_NOT_MANUAL),
    (2001939, K.SERIES_MISSING),
    (2000550, K.ACCOUNT_INACTIVE),
    (2000423, K.ACCOUNT_MISSING),
    (2001304, K.ACCOUNT_MISSING),
    (2000663, K.SCOPE_MISSING),
    (2001101, K.LICENSE_MISSING),
    (2001103, K.LICENSE_MISSING),
    (2002455, K.ACCESS_DENIED),
    (2000401, K.PERIOD_LOCKED),
    (1000003, K.FORTNOX_UNAVAILABLE),
    (2000310, K.CONNECTION_INVALIDATED),
    (2000311, K.CONNECTION_INVALIDATED),
    (2000946, K.DIMENSION_INVALID),
    (2000947, K.DIMENSION_INVALID),
    (2002821, K.DIMENSION_INVALID),
    (2001897, K.VOUCHER_INVALID),
]


@pytest.mark.parametrize(("code", "kind"), CODES)
@pytest.mark.parametrize("message", ["", "Fel vid export", "x"])
def test_code_decides(catalogue: Catalogue, code: int, kind: Kind, message: str) -> None:
    match = catalogue.classify(message, code=code)
    assert (match.kind, match.matched_by) == (kind, "code")


def test_code_wins_over_a_message_of_another_kind(catalogue: Catalogue) -> None:
    match = catalogue.classify('Konto "3001" är inte aktivt', code=2001940)
    assert (match.kind, match.matched_by) == (K.SERIES_NOT_MANUAL, "code")


def test_code_match_still_extracts_params_from_the_message(catalogue: Catalogue) -> None:
    match = catalogue.classify(
        "Fel vid export: Verifikationsserien är inte manuell (K)", code=2001940
    )
    assert (match.kind, match.matched_by, match.params) == (
        K.SERIES_NOT_MANUAL,
        "code",
        {"series": "K"},
    )
    match = catalogue.classify('Konto "3740" är inte aktivt', code=2000550)
    assert match.params == {"account": "3740"}


def test_2001265_is_only_a_fallback(catalogue: Catalogue) -> None:
    # 2001265 means "account missing, nonexistent or inactive": the message is more precise.
    assert (
        catalogue.classify('Konto "3001" är inte aktivt', code=2001265).kind == K.ACCOUNT_INACTIVE
    )
    assert catalogue.classify("Ogiltigt konto", code=2001265).kind == K.CHART_OF_ACCOUNTS_MISSING
    match = catalogue.classify("", code=2001265)
    assert (match.kind, match.matched_by) == (K.CHART_OF_ACCOUNTS_MISSING, "fallback_code")


@pytest.mark.parametrize(
    "code", [2000106, 2000108, 2000134, 2000359, 2001392, 2001399, 2002115, 2000588]
)
def test_validation_codes_are_not_recognised(catalogue: Catalogue, code: int) -> None:
    assert catalogue.classify("Fel vid export", code=code).kind == K.UNRECOGNIZED


def test_a_validation_code_does_not_hide_a_known_message(catalogue: Catalogue) -> None:
    match = catalogue.classify("Verifikationsserien är inte manuell (F)", code=2000106)
    assert (match.kind, match.matched_by) == (K.SERIES_NOT_MANUAL, "message")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_fortnox_unavailable_by_http_status(catalogue: Catalogue, status: int) -> None:
    match = catalogue.classify("", http_status=status)
    assert (match.kind, match.matched_by) == (K.FORTNOX_UNAVAILABLE, "http_status")


def test_403_without_anything_else_is_access_denied(catalogue: Catalogue) -> None:
    assert catalogue.classify("", http_status=403).kind == K.ACCESS_DENIED


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_other_statuses_alone_are_unrecognized(catalogue: Catalogue, status: int) -> None:
    assert catalogue.classify("", http_status=status).kind == K.UNRECOGNIZED


def test_message_wins_over_status(catalogue: Catalogue) -> None:
    match = catalogue.classify("Verifikationsserien är inte manuell (F)", http_status=500)
    assert match.kind == K.SERIES_NOT_MANUAL


@pytest.mark.parametrize(
    ("body", "kind", "params"),
    [
        (
            {
                "ErrorInformation": {
                    "error": 1,
                    "message": "Verifikationsserien är inte manuell (K)",
                    "code": "2001940",
                }
            },
            K.SERIES_NOT_MANUAL,
            {"series": "K"},
        ),
        (
            {
                "errorinformation": {
                    "Error": 1,
                    "Message": "Kan inte hitta kontot.",
                    "Code": 2000423,
                }
            },
            K.ACCOUNT_MISSING,
            {},
        ),
        (
            {"ErrorInformation": {"error": 1, "message": 'Konto "3002" är inte aktivt'}},
            K.ACCOUNT_INACTIVE,
            {"account": "3002"},
        ),
        (
            {"error": "invalid_grant", "error_description": "Invalid refresh token"},
            K.CONNECTION_INVALIDATED,
            {},
        ),
        (
            {"ErrorInformation": {"code": 1000003, "message": "System exception"}},
            K.FORTNOX_UNAVAILABLE,
            {},
        ),
        ("<html><body>502 Bad Gateway</body></html>", K.FORTNOX_UNAVAILABLE, {}),
    ],
)
def test_raw_body_is_read(
    catalogue: Catalogue, body: Any, kind: Kind, params: dict[str, str]
) -> None:
    match = catalogue.classify("", body=body)
    assert (match.kind, match.params) == (kind, params)


def test_invalid_grant_in_body_is_an_oauth_match(catalogue: Catalogue) -> None:
    body = {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    match = catalogue.classify("Fel vid export", body=body)
    assert (match.kind, match.matched_by) == (K.CONNECTION_INVALIDATED, "oauth_error")


@pytest.mark.parametrize(
    "body",
    [
        {"error": "invalid_client", "error_description": "Invalid client"},
        {"message": "unauthorized"},
        {"ErrorInformation": {"code": 2000106, "message": "Ogiltigt värde"}},
        ["not", "an", "object"],
        None,
        42,
    ],
)
def test_bodies_that_must_not_match(catalogue: Catalogue, body: Any) -> None:
    assert catalogue.classify("", body=body).kind == K.UNRECOGNIZED


def test_every_kind_is_recognisable() -> None:
    covered = {kind for _, kind, _ in MESSAGES} | {kind for _, kind in CODES}
    covered |= {K.UNRECOGNIZED}
    assert sorted(covered) == shipped_kinds()


def test_every_kind_but_unrecognized_has_a_playbook(catalogue: Catalogue) -> None:
    kinds = [playbook.kind for playbook in catalogue.playbooks()]
    assert kinds == shipped_kinds(unrecognized=False)
    assert set(kinds) >= SHIPPED_PLAYBOOK_KINDS
    assert catalogue.playbook(K.UNRECOGNIZED) is None


def test_classify_failure_uses_every_field(catalogue: Catalogue) -> None:
    failure = ExportFailure.model_validate(
        {
            "event_id": "e1",
            "restaurant": {"id": "r1", "name": "Bistro"},
            "connection_id": "c1",
            "export": {"id": "z1", "date": "2026-03-02"},
            "error": {"message": "", "code": "2001939", "http_status": 400},
        }
    )
    assert catalogue.classify_failure(failure).kind == K.SERIES_MISSING


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Fel vid export: Konto “3001” är inte aktivt.", 'konto "3001" är inte aktivt'),
        ("  FEL VID EXPORT:  Ogiltigt \t konto...", "ogiltigt konto"),
        ("Fel vid export: fel vid export: Access denied", "access denied"),
        ("Konto « 3001 » är inte aktivt", 'konto "3001" är inte aktivt'),
        ("Konto ‘3001’ är inte aktivt", 'konto "3001" är inte aktivt'),
        ("The restaurant's account", "the restaurant's account"),
        ("", ""),
    ],
)
def test_normalise(raw: str, normalised: str) -> None:
    assert normalise(raw) == normalised


def test_any_oauth_error_a_playbook_names_is_found_in_the_message(tmp_path: Path) -> None:
    directory = tmp_path / "playbooks"
    shutil.copytree(DEFAULT_DIR, directory)
    path = directory / "scope_missing.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("recognise:\n", "recognise:\n  oauth_errors: [invalid_scope]\n"))
    catalogue = Catalogue(load_playbooks(directory))
    match = catalogue.classify('Fel vid export: {"error": "invalid_scope"}')
    assert (match.kind, match.matched_by) == (K.SCOPE_MISSING, "oauth_error")
    match = catalogue.classify("", body={"error": "INVALID_SCOPE"})
    assert (match.kind, match.matched_by) == (K.SCOPE_MISSING, "oauth_error")


def test_an_action_s_case_comes_from_its_playbook_then_the_shared_file(tmp_path: Path) -> None:
    directory = tmp_path / "playbooks"
    shutil.copytree(DEFAULT_DIR, directory)
    (directory / "_shared.yaml").write_text(
        "cases:\n  export_again: {sv: ['Exportera {date}.'], en: ['Export {date}.']}\n"
        "  shared_connection: {sv: [Delad.], en: [Shared.]}\n",
        encoding="utf-8",
    )
    catalogue = load_catalogue(directory)
    assert catalogue.instructions(K.SERIES_MISSING, "export_again").en == ["Export {date}."]
    # The playbook's own case of that name wins over the shared one.
    own = catalogue.instructions(K.CONNECTION_INVALIDATED, "shared_connection").en
    assert own[0].startswith("Warning: the same Fortnox company")
    # No such case: the kind's own instructions.
    assert catalogue.instructions(K.SERIES_MISSING, "nowhere") == catalogue.instructions(
        K.SERIES_MISSING
    )
    assert catalogue.instructions(K.SERIES_MISSING).en[0].startswith("In Fortnox")


def test_a_directory_without_shared_instructions_uses_the_shipped_ones(tmp_path: Path) -> None:
    directory = tmp_path / "playbooks"
    shutil.copytree(DEFAULT_DIR, directory)
    (directory / "_shared.yaml").unlink()
    lines = load_catalogue(directory).instructions(K.SERIES_MISSING, "export_again")
    assert "Exportera till Fortnox" in lines.sv[0]


def test_shared_instructions_with_an_unknown_placeholder_are_refused(tmp_path: Path) -> None:
    directory = tmp_path / "playbooks"
    shutil.copytree(DEFAULT_DIR, directory)
    (directory / "_shared.yaml").write_text(
        "cases:\n  export_again: {sv: ['{nope}'], en: [x]}\n", encoding="utf-8"
    )
    with pytest.raises(PlaybookError, match="nope"):
        load_catalogue(directory)
