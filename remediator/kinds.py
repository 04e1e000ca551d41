"""The stable error kinds (contract 3), used in reports and playbook files."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    SERIES_NOT_MANUAL = "series_not_manual"
    CHART_OF_ACCOUNTS_MISSING = "chart_of_accounts_missing"
    ACCOUNT_INACTIVE = "account_inactive"
    SERIES_MISSING = "series_missing"
    ACCESS_DENIED = "access_denied"
    CONNECTION_INVALIDATED = "connection_invalidated"
    FINANCIAL_YEAR_MISSING = "financial_year_missing"
    PERIOD_LOCKED = "period_locked"
    SCOPE_MISSING = "scope_missing"
    LICENSE_MISSING = "license_missing"
    ACCOUNT_MISSING = "account_missing"
    FORTNOX_UNAVAILABLE = "fortnox_unavailable"
    UNRECOGNIZED = "unrecognized"
