"""The export failure (contract 1): valid examples, and refusals naming every problem at once."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remediator.catalogue import load_catalogue
from remediator.errors import UsageError
from remediator.failure import (
    ExportFailure,
    InvalidFailure,
    parse_failure,
    storable,
    stored_failure,
)
from tests.service.fuzz.strategies import damaged, valid_failures


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_id": "evt-1",
        "restaurant": {"id": "r1", "name": "Bistro Ljus"},
        "connection_id": "bistro-ljus",
        "export": {"id": "z-812", "date": "2026-03-02"},
        "error": {"message": "Fel vid export: Verifikationsserien är inte manuell (F)"},
    }
    return data | changes


VOUCHER = {
    "VoucherSeries": "F",
    "TransactionDate": "2026-03-02",
    "Description": "Z-rapport 812",
    "VoucherRows": [
        {"Account": 1910, "Debit": 1250.0, "Credit": 0},
        {"Account": 3001, "Debit": 0, "Credit": 1000.0},
        {"Account": 2611, "Debit": 0, "Credit": 250.0},
    ],
}

# The six Backoffice errors, as the Backoffice would report them.
SIX = [
    {"message": "Fel vid export: Verifikationsserien är inte manuell (F)", "code": 2001940},
    {"message": "Fel vid export: Ogiltigt konto"},
    {"message": 'Fel vid export: Konto "3001" är inte aktivt', "code": "2000550"},
    {"message": 'Verifikationsserien "F - Kassa" finns inte', "http_status": 400},
    {"message": "Access denied", "http_status": 403},
    {
        "message": "Kopplingen har invaliderats av Fortnox",
        "body": {"error": "invalid_grant", "error_description": "Invalid refresh token"},
    },
]


def parse(data: dict[str, Any]) -> ExportFailure:
    return parse_failure(json.dumps(data))


def problems(data: Any) -> list[str]:
    with pytest.raises(InvalidFailure) as caught:
        parse_failure(data if isinstance(data, str | bytes) else json.dumps(data))
    return caught.value.problems


def test_minimal_failure_and_defaults() -> None:
    failure = parse(minimal())
    assert failure.export.kind == "z_report"
    assert failure.export.date == date(2026, 3, 2)
    assert failure.export.voucher_series == "F"
    assert failure.export.voucher is None
    assert failure.error.code is None
    assert failure.error.http_status is None
    assert failure.callback_url is None
    assert failure.export_key == "zr:r1:z-812"


@pytest.mark.parametrize("error", SIX)
def test_the_six_backoffice_errors_are_accepted(error: dict[str, Any]) -> None:
    failure = parse(minimal(error=error))
    assert failure.error.message == error["message"]


def test_full_failure_with_wrapped_voucher() -> None:
    data = minimal(
        export={
            "kind": "z_report",
            "id": "z-812",
            "date": "2026-03-02",
            "voucher_series": " k ",
            "voucher": {"Voucher": VOUCHER},
        },
        error={"message": "x", "code": " 2001940 ", "http_status": "400", "body": {"a": [1]}},
        callback_url="https://backoffice.example/hooks/fortnox",
    )
    failure = parse(data)
    assert failure.export.voucher_series == "K"
    assert failure.export.voucher is not None
    assert failure.export.voucher.accounts() == [1910, 3001, 2611]
    assert failure.error.code == 2001940
    assert failure.error.http_status == 400
    assert failure.error.body == {"a": [1]}
    assert str(failure.callback_url) == "https://backoffice.example/hooks/fortnox"


def test_unwrapped_voucher_and_bytes_input() -> None:
    data = minimal(export={"id": "z", "date": "2026-03-02", "voucher": VOUCHER})
    failure = parse_failure(json.dumps(data).encode())
    assert failure.export.voucher is not None
    assert failure.export.voucher.voucher_series == "F"


def test_voucher_with_an_invalid_account_is_accepted() -> None:
    # "Ogiltigt konto" can be the very error: the failed voucher must still be explained.
    voucher = VOUCHER | {"VoucherRows": [{"Account": 0, "Debit": 1}, {"Credit": 1}]}
    failure = parse(minimal(export={"id": "z", "date": "2026-03-02", "voucher": voucher}))
    assert failure.export.voucher is not None


def test_empty_message_is_allowed_when_a_code_says_it_all() -> None:
    assert parse(minimal(error={"message": "", "code": 2001939})).error.code == 2001939


def test_every_problem_is_listed_at_once() -> None:
    found = problems(
        {
            "event_id": "",
            "restaurant": {"id": "r1"},
            "connection_id": None,
            "export": {"kind": "x_report", "id": "z", "date": "2026-13-01", "voucher_series": ""},
            "error": {"message": "m", "code": "abc", "http_status": 99},
            "callback_url": "ftp://backoffice",
            "extra": 1,
        }
    )
    assert found == [
        'event_id: must not be empty, got ""',
        "restaurant.name: required, but missing",
        "connection_id: must be text, got null",
        "export.kind: must be one of: 'z_report', got \"x_report\"",
        'export.date: not a date (expected YYYY-MM-DD), got "2026-13-01"',
        'export.voucher_series: must not be empty, got ""',
        'error.code: not a whole number, got "abc"',
        "error.http_status: must be at least 100, got 99",
        'callback_url: not a web address (http:// or https://), got "ftp://backoffice"',
        "extra: not a known field, got 1",
    ]


def test_missing_everything() -> None:
    assert problems({}) == [
        f"{field}: required, but missing"
        for field in ("event_id", "restaurant", "connection_id", "export", "error")
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"event_id": 5}, "event_id: must be text, got 5"),
        ({"restaurant": "Bistro"}, 'restaurant: must be an object, got "Bistro"'),
        ({"error": {}}, "error.message: required, but missing"),
        ({"error": {"message": "m", "code": True}}, "error.code: not a whole number, got true"),
        ({"error": {"message": "m", "code": 1.5}}, "error.code: not a whole number, got 1.5"),
        (
            {"error": {"message": "m", "http_status": 600}},
            "error.http_status: must be at most 599, got 600",
        ),
        (
            {"export": {"id": "z", "date": "2 mars"}},
            'export.date: not a date (expected YYYY-MM-DD), got "2 mars"',
        ),
        (
            {"export": {"id": "z", "date": "2026-03-02", "voucher_series": "   "}},
            'export.voucher_series: must not be empty, got ""',
        ),
        (
            {"export": {"id": "z", "date": "2026-03-02", "voucher_series": "ABCDEFGHIJK"}},
            'export.voucher_series: too long (at most 10 characters), got "ABCDEFGHIJK"',
        ),
        (
            {"callback_url": "not a url"},
            'callback_url: not a web address (http:// or https://), got "not a url"',
        ),
    ],
)
def test_one_problem_in_plain_words(changes: dict[str, Any], expected: str) -> None:
    assert problems(minimal(**changes)) == [expected]


def test_problems_inside_the_voucher_name_the_row() -> None:
    voucher = {"TransactionDate": "x", "VoucherRows": [{"Account": 1910}, {"Account": "abc"}]}
    found = problems(minimal(export={"id": "z", "date": "2026-03-02", "voucher": voucher}))
    assert found == [
        "export.voucher.VoucherSeries: required, but missing",
        'export.voucher.TransactionDate: not a date (expected YYYY-MM-DD), got "x"',
        'export.voucher.VoucherRows[1].Account: not a whole number, got "abc"',
    ]


def test_a_long_wrong_value_is_cut() -> None:
    [problem] = problems(minimal(error={"message": "x" * 6000}))
    assert problem.startswith('error.message: too long (at most 5000 characters), got "xxx')
    assert problem.endswith("…")
    assert len(problem) < 140


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "not JSON (Expecting value: line 1 column 1 (char 0))"),
        (
            "{not json",
            "not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        (b"\xff\xfe", "not JSON"),
        ("[]", "must be a JSON object"),
        ("null", "must be a JSON object"),
        ('"a string"', "must be a JSON object"),
    ],
)
def test_not_a_json_object(raw: str | bytes, expected: str) -> None:
    [problem] = problems(raw)
    assert problem.startswith(expected)


def test_refusal_reads_as_one_message_per_line_and_is_a_usage_error() -> None:
    with pytest.raises(InvalidFailure) as caught:
        parse_failure("{}", source="failure.json")
    err = caught.value
    assert isinstance(err, UsageError)
    assert err.exit_code == 2
    lines = str(err).splitlines()
    assert lines[0] == "failure.json is not a valid export failure:"
    assert lines[1:] == [f"  {p}" for p in err.problems]


def test_a_single_problem_is_one_line() -> None:
    with pytest.raises(InvalidFailure) as caught:
        parse_failure("[]", source="failure.json")
    assert str(caught.value) == "failure.json is not a valid export failure: must be a JSON object"


def test_failure_is_frozen_and_round_trips() -> None:
    failure = parse(minimal(export={"id": "z", "date": "2026-03-02", "voucher": VOUCHER}))
    again = parse_failure(failure.model_dump_json(by_alias=True))
    assert again == failure
    with pytest.raises(ValueError, match="frozen"):
        failure.event_id = "other"  # type: ignore[misc]


WRAPPED = minimal(
    export={
        "id": "z",
        "date": "2026-03-02",
        "voucher_series": " f ",
        "voucher": {"Voucher": VOUCHER},
    },
    callback_url="https://backoffice.example/hooks/ä",
)


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_whatever_intake_accepts_is_stored_as_json_that_reads_back(data: st.DataObject) -> None:
    """Intake stores ``storable``'s text without reading it back first: what it accepted must
    read back under the same limits (nesting, numbers, text), as the same failure."""
    body = data.draw(valid_failures(WRAPPED))
    if data.draw(st.booleans()):
        body = data.draw(damaged(body))
    raw = json.dumps(body, ensure_ascii=data.draw(st.booleans()))
    try:
        failure = parse_failure(raw)
    except (InvalidFailure, RecursionError):
        return
    assert stored_failure(storable(failure)) == failure


DOCS = Path(__file__).parents[1] / "docs" / "failure.md"


def json_blocks() -> list[Any]:
    text = DOCS.read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)]


def test_the_documented_examples_are_valid() -> None:
    full, smallest, *errors = json_blocks()
    assert parse(full).export.voucher is not None
    assert parse(smallest).export.voucher is None
    catalogue = load_catalogue()
    kinds = [catalogue.classify_failure(parse(full | {"error": error})).kind for error in errors]
    assert kinds == [
        "series_not_manual",
        "chart_of_accounts_missing",
        "account_inactive",
        "series_missing",
        "access_denied",
        "connection_invalidated",
    ]


def test_the_documented_refusal_is_the_real_one() -> None:
    text = DOCS.read_text(encoding="utf-8")
    shown = text.split("$ remediator plan failure.json\n")[1].split("```")[0].splitlines()
    found = problems(
        {
            "event_id": "",
            "restaurant": {"id": "r1"},
            "connection_id": "c",
            "export": {"kind": "x_report", "id": "z", "date": "2026-13-01"},
            "error": {"message": "m", "code": "abc", "http_status": 99},
            "callback_url": "ftp://backoffice",
            "extra": 1,
        }
    )
    assert shown == ["error: failure.json is not a valid export failure:"] + [
        f"  {p}" for p in found
    ]


PREFLIGHT_EXPORT = {"kind": "preflight", "id": "ahead-2027-01-01", "date": "2027-01-01"}


def test_a_preflight_is_the_remediators_own_and_refused_from_outside() -> None:
    text = json.dumps(minimal(export=PREFLIGHT_EXPORT | {"accounts": [1910, 3001]}))
    with pytest.raises(InvalidFailure) as refused:
        parse_failure(text)
    assert refused.value.problems == [
        'export.kind: "preflight" is the remediator\'s own; an export is "z_report"'
    ]
    stored = stored_failure(text)
    assert stored.ahead
    assert stored.export.accounts == [1910, 3001]
    assert not parse_failure(json.dumps(minimal())).ahead


def test_only_a_preflight_names_accounts_instead_of_a_voucher() -> None:
    export = {"id": "z-812", "date": "2026-03-02", "accounts": [1910]}
    with pytest.raises(InvalidFailure, match="only a preflight names accounts"):
        parse_failure(json.dumps(minimal(export=export)))
