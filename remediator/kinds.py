"""Error kinds (contract 3): stable ids used in reports, playbook files and metrics.

A kind is an id string (:data:`Kind`): lower case, a letter first, then letters, digits and
``_``, 3 to 64 characters. The kinds the remediator ships with are the :class:`ErrorKind`
constants; a playbook file may declare any other id, and that id is then as stable as these
(reports, the run store and the service's metrics carry it). ``unrecognized`` is reserved for
errors no playbook recognises.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import Field


class ErrorKind(StrEnum):
    """The shipped kinds; each member is its id (``ErrorKind.SERIES_MISSING == "series_missing"``)."""

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
    DIMENSION_INVALID = "dimension_invalid"
    VOUCHER_INVALID = "voucher_invalid"
    UNRECOGNIZED = "unrecognized"


KIND_PATTERN = r"^[a-z][a-z0-9_]{2,63}$"
_KIND = re.compile(KIND_PATTERN)

#: The shipped kinds that need a playbook file (every one but ``unrecognized``).
SHIPPED_PLAYBOOK_KINDS = frozenset(k.value for k in ErrorKind if k != ErrorKind.UNRECOGNIZED)

KIND_DESCRIPTION = (
    "The error kind, a stable id. Shipped: "
    + ", ".join(f"`{kind}`" for kind in sorted(SHIPPED_PLAYBOOK_KINDS))
    + ", and `unrecognized` when no playbook recognised the error. A playbook file may declare "
    "another id, which is then as stable as these."
)

Kind = Annotated[str, Field(pattern=KIND_PATTERN, description=KIND_DESCRIPTION)]
"""An error kind's id: a shipped :class:`ErrorKind` or one a playbook declares."""


def is_kind(text: str) -> bool:
    """Whether ``text`` is a well-formed kind id (known to a playbook or not)."""
    return _KIND.fullmatch(text) is not None
