"""Which days a check ahead looks at: tomorrow, and near a year's end the next year's first."""

from __future__ import annotations

from datetime import date

import pytest

from remediator.catalogue import load_catalogue
from remediator.foreseen import FORTNOX_SAYS, days_ahead
from remediator.fortnox import FinancialYear

YEAR_2026 = FinancialYear.model_validate(
    {"Id": 2, "FromDate": "2026-01-01", "ToDate": "2026-12-31"}
)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 3, 2), [date(2026, 3, 3)]),
        (date(2026, 11, 30), [date(2026, 12, 1)]),  # 31 days left: not yet
        (date(2026, 12, 1), [date(2026, 12, 2), date(2027, 1, 1)]),  # 30 days left
        (date(2026, 12, 31), [date(2027, 1, 1)]),  # tomorrow is the first day
    ],
)
def test_the_next_years_first_day_from_30_days_before_the_end(
    today: date, expected: list[date]
) -> None:
    assert days_ahead(today, YEAR_2026, 30) == expected


def test_without_a_current_year_only_tomorrow() -> None:
    assert days_ahead(date(2026, 12, 20), None, 30) == [date(2026, 12, 21)]


def test_every_foreseen_message_is_recognised_as_its_kind() -> None:
    catalogue = load_catalogue()
    for kind, says in FORTNOX_SAYS.items():
        message = says.format(series="F", account=3002)
        assert catalogue.classify(message).kind == kind, message
