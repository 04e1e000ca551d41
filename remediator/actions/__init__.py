"""Actions: small idempotent functions that read, decide, and write only in apply mode."""

from remediator.actions.access import diagnose_access
from remediator.actions.accounts import account_active, account_exists
from remediator.actions.base import Action, Context
from remediator.actions.chart import chart_review
from remediator.actions.connection import refresh_connection
from remediator.actions.dimensions import cost_centres
from remediator.actions.period import locked_period
from remediator.actions.resend import resend_voucher
from remediator.actions.series import series_exists, series_manual
from remediator.actions.status import fortnox_status
from remediator.actions.voucher import voucher_review
from remediator.actions.years import financial_year

ACTIONS: dict[str, Action] = {
    "financial_year": financial_year,
    "series_exists": series_exists,
    "series_manual": series_manual,
    "account_active": account_active,
    "account_exists": account_exists,
    "chart_review": chart_review,
    "diagnose_access": diagnose_access,
    "refresh_connection": refresh_connection,
    "locked_period": locked_period,
    "fortnox_status": fortnox_status,
    "cost_centres": cost_centres,
    "voucher_review": voucher_review,
    "resend_voucher": resend_voucher,
}

__all__ = ["ACTIONS", "Action", "Context"]
