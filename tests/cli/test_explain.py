"""``remediator explain``: no connection needed; kind, parameters, meaning and remedy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import run
from tests.shipped import shipped_kinds


def texts(data: dict[str, Any]) -> list[str]:
    """Every text for people in an explain answer."""
    found = [data["explanation"][lang] for lang in ("sv", "en")]
    found += [data["remedy"][lang] for lang in ("sv", "en")]
    return found + [line for lang in ("sv", "en") for line in data["manual_steps"][lang]]


def explained(*args: str) -> tuple[int, dict[str, Any]]:
    result = run("explain", *args, "--json")
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize(
    ("message", "kind", "params"),
    [
        (
            "Fel vid export: Verifikationsserien är inte manuell (F)",
            "series_not_manual",
            {"series": "F"},
        ),
        ("Fel vid export: Ogiltigt konto", "chart_of_accounts_missing", {}),
        ('Fel vid export: Konto "3001" är inte aktivt', "account_inactive", {"account": "3001"}),
        ('Verifikationsserien "F - Kassa" finns inte', "series_missing", {"series": "F"}),
        ("Access denied", "access_denied", {}),
        ("Kopplingen har invaliderats av Fortnox", "connection_invalidated", {}),
    ],
)
def test_the_six_backoffice_errors(message: str, kind: str, params: dict[str, str]) -> None:
    code, data = explained(message)
    assert code == 0
    assert (data["kind"], data["params"], data["playbook"]) == (kind, params, kind)
    assert data["matched_by"] == "message"
    for lang in ("sv", "en"):
        assert data["explanation"][lang]
        assert data["remedy"][lang]
        assert data["manual_steps"][lang]
    assert not [text for text in texts(data) if "{" in text]  # every placeholder filled


def test_json_shape_and_parameters_in_texts() -> None:
    code, data = explained("Fel vid export: Konto “3740” är inte aktivt.")
    assert code == 0
    assert set(data) >= {"kind", "params", "playbook", "explanation", "matched_by", "auto_apply"}
    assert data["params"] == {"account": "3740"}
    assert data["auto_apply"] is True
    assert "konto 3740" in data["explanation"]["sv"]
    assert "account 3740" in data["explanation"]["en"]
    # explain knows no export: the date is named in words, not left as {date}
    assert "exportdatumet" in data["explanation"]["sv"]
    assert "the export date" in data["explanation"]["en"]
    assert "Inställningar → Bokföring → Kontoplan" in data["manual_steps"]["sv"][0]


def test_code_and_http_status() -> None:
    code, data = explained("", "--code", "2001939")
    assert (code, data["kind"], data["matched_by"]) == (0, "series_missing", "code")
    code, data = explained("Fel vid export", "--http-status", "429")
    assert (code, data["kind"], data["matched_by"]) == (0, "fortnox_unavailable", "http_status")
    code, data = explained('Konto "3001" är inte aktivt', "--code", "2001940")
    assert data["kind"] == "series_not_manual"  # the code decides


@pytest.mark.parametrize("message", ["Fel vid export: Okänt fel", "", "Fel vid export:"])
def test_unrecognized_exits_5(message: str) -> None:
    code, data = explained(message)
    assert code == 5
    assert (data["kind"], data["playbook"], data["params"]) == ("unrecognized", None, {})
    assert data["explanation"] == {
        "sv": "Felet känns inte igen.",
        "en": "The error is not recognised.",
    }
    assert data["manual_steps"] == {"sv": [], "en": []}


def test_unrecognized_text_exits_5_too() -> None:
    result = run("explain", "Fel vid export: Okänt fel", "--lang", "en")
    assert result.exit_code == 5
    assert "The error is not recognised." in result.stdout


def test_human_output_in_swedish_by_default() -> None:
    result = run("explain", "Fel vid export: Verifikationsserien är inte manuell (F)")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("series_not_manual  (message) series=F")
    for heading in ("Vad det betyder", "Vad remediatorn gör", "Om det måste göras för hand"):
        assert heading in out
    assert "What it means" not in out
    assert "1. Öppna Inställningar → Bokföring → Verifikationsserier" in " ".join(out.split())


def test_human_output_in_english() -> None:
    result = run("explain", "Access denied", "--lang", "en")
    assert result.exit_code == 0
    for heading in ("What it means", "What the remediator does", "If it must be done by hand"):
        assert heading in result.stdout
    assert "Vad det betyder" not in result.stdout


def test_every_kind_can_be_explained() -> None:
    samples = {
        "series_not_manual": "Verifikationsserien är inte manuell (F)",
        "chart_of_accounts_missing": "Ogiltigt konto",
        "account_inactive": 'Konto "3001" är inte aktivt',
        "series_missing": 'Verifikationsserien "F - Kassa" finns inte',
        "access_denied": "Access denied",
        "connection_invalidated": "Kopplingen har invaliderats av Fortnox",
        "financial_year_missing": "Räkenskapsår saknas för valt datum",
        "period_locked": "Bokföringsdatumet ligger i en automatlåst period",
        "scope_missing": "Har inte behörighet för scope",
        "license_missing": "Api-licens saknas.",
        "account_missing": 'Konto "3003" saknas i kontoplanen',
        "fortnox_unavailable": "System exception",
        "dimension_invalid": "Kostnadsställe är obligatoriskt på konto: 1930",
        "voucher_invalid": "verifikation balanserar ej",
        "unrecognized": "Fel vid export: Okänt fel",
    }
    assert sorted(samples) == shipped_kinds()
    for kind, message in samples.items():
        code, data = explained(message)
        assert data["kind"] == kind
        assert code == (5 if kind == "unrecognized" else 0)
        assert not [text for text in texts(data) if "{" in text]


def test_usage_errors_exit_2() -> None:
    result = run("explain", "x", "--code", "abc")
    assert result.exit_code == 2
    assert "'abc' is not a valid integer" in result.stderr
    assert run("explain").exit_code == 2
    assert run("explain", "x", "--lang", "de").exit_code == 2


def test_a_broken_playbook_directory_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken.yaml").write_text("kind: [\n")
    monkeypatch.setenv("REMEDIATOR_PLAYBOOKS_DIR", str(tmp_path))
    result = run("explain", "Access denied")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path / 'broken.yaml'}:")
    assert "not valid YAML" in result.stderr
    assert "Traceback" not in result.output
