"""The connector's public surface changes only on purpose."""

from __future__ import annotations

from remediator import fortnox
from remediator.errors import RemediatorError

EXPECTED = [
    "Account",
    "BadRequest",
    "Chart",
    "CompanyInformation",
    "ConnectionKind",
    "ConnectionStatus",
    "ConsentRequired",
    "CostCenter",
    "ErrorBody",
    "FinancialYear",
    "Forbidden",
    "FortnoxAPIError",
    "FortnoxClient",
    "FortnoxConnector",
    "FortnoxError",
    "FortnoxTransportError",
    "Ledger",
    "LockedPeriod",
    "Me",
    "Memory",
    "MetaInformation",
    "NotFound",
    "OAuthClient",
    "RateLimited",
    "ReadOnlyViolation",
    "ReconnectCause",
    "RefreshLocks",
    "RequestHook",
    "RequestRecord",
    "RetryPolicy",
    "ServerError",
    "SlidingWindowLimiter",
    "StoreRetry",
    "StoredConnection",
    "TokenError",
    "TokenManager",
    "TokenSet",
    "TokenStore",
    "Unauthorized",
    "Voucher",
    "VoucherRow",
    "VoucherSeries",
    "WriteOutcomeUnknown",
    "claims",
    "parse_error_body",
    "scopes_of",
    "tenant_of",
]


def test_all_is_sorted_and_exactly_the_expected_surface() -> None:
    assert fortnox.__all__ == sorted(fortnox.__all__)
    assert fortnox.__all__ == EXPECTED


def test_every_exported_member_exists_and_says_where_it_belongs() -> None:
    for name in fortnox.__all__:
        if name == "RequestHook":  # a type alias of Callable
            continue
        module = getattr(getattr(fortnox, name), "__module__", "")
        assert module.startswith("remediator."), name


def test_one_exception_tree() -> None:
    errors = [
        getattr(fortnox, n)
        for n in fortnox.__all__
        if isinstance(getattr(fortnox, n), type) and issubclass(getattr(fortnox, n), Exception)
    ]
    assert errors
    assert all(issubclass(e, fortnox.FortnoxError) for e in errors)
    assert issubclass(fortnox.FortnoxError, RemediatorError)
