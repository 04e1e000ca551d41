"""What the service itself tells people: the page after a consent says what happens next to
each Z-report that waited for the connection, and what is still the restaurant's to do."""

from __future__ import annotations

from typing import Any

from remediator.failure import ExportFailure
from remediator.service.texts import reconnected

VOUCHER = {
    "TransactionDate": "2026-03-02",
    "VoucherSeries": "F",
    "VoucherRows": [
        {"Account": 1910, "Debit": 100.0, "Credit": 0},
        {"Account": 3001, "Debit": 0, "Credit": 100.0},
    ],
}


def failure(day: str, *, voucher: bool) -> ExportFailure:
    export: dict[str, Any] = {"id": f"z-{day}", "date": day}
    if voucher:
        export["voucher"] = VOUCHER | {"TransactionDate": day}
    return ExportFailure.model_validate(
        {
            "event_id": f"e-{day}",
            "restaurant": {"id": "r1", "name": "Bistro"},
            "connection_id": "r1",
            "export": export,
            "error": {"message": "Kopplingen har invaliderats av Fortnox"},
        }
    )


def test_nothing_waited_the_page_says_the_connection_works() -> None:
    page = reconnected([])
    assert page.en == "Done: the connection to Fortnox works again. You may close this window."
    assert page.sv == "Klart: kopplingen till Fortnox fungerar igen. Du kan stänga fönstret."


def test_waiting_vouchers_are_sent_again_and_a_day_without_one_is_to_be_exported() -> None:
    page = reconnected(
        [
            failure("2026-03-03", voucher=True),
            failure("2026-03-02", voucher=True),
            failure("2026-03-04", voucher=False),
        ]
    )
    assert "The Z-reports for 2026-03-02, 2026-03-03 are being sent to Fortnox again" in page.en
    assert "Z-rapporterna för 2026-03-02, 2026-03-03 skickas nu till Fortnox igen" in page.sv
    assert "The Z-report for 2026-03-04 must be exported again from the Backoffice" in page.en
    assert "Z-rapporten för 2026-03-04 måste exporteras igen från Backoffice" in page.sv
