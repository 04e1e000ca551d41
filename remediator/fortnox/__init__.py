"""The Fortnox connector: async client, OAuth token manager, rate limiter, errors, models."""

from remediator.fortnox._client import FortnoxClient
from remediator.fortnox._connector import FortnoxConnector
from remediator.fortnox._events import RequestHook, RequestRecord
from remediator.fortnox._exceptions import (
    BadRequest,
    ConsentRequired,
    Forbidden,
    FortnoxAPIError,
    FortnoxError,
    FortnoxTransportError,
    NotFound,
    RateLimited,
    ReadOnlyViolation,
    ServerError,
    TokenError,
    Unauthorized,
    WriteOutcomeUnknown,
)
from remediator.fortnox._grants import (
    ConnectionKind,
    ConnectionStatus,
    ReconnectCause,
    StoredConnection,
    TokenSet,
    TokenStore,
)
from remediator.fortnox._jwt import claims, scopes_of, tenant_of
from remediator.fortnox._ledger import Ledger
from remediator.fortnox._memory import Memory
from remediator.fortnox._models import (
    Account,
    Chart,
    CompanyInformation,
    CostCenter,
    FinancialYear,
    LockedPeriod,
    Me,
    MetaInformation,
    Voucher,
    VoucherRow,
    VoucherSeries,
)
from remediator.fortnox._oauth import OAuthClient
from remediator.fortnox._ratelimit import SlidingWindowLimiter
from remediator.fortnox._responses import ErrorBody, parse_error_body
from remediator.fortnox._retry import RetryPolicy
from remediator.fortnox._tokens import RefreshLocks, StoreRetry, TokenManager

__all__ = [
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
