"""What the connector reports about every request it makes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class RequestRecord:
    """One request to Fortnox: never a token, never a body."""

    kind: Literal["api", "token"]
    method: str
    path: str
    status: int | None
    duration: float
    tenant: str | None = None
    code: int | None = None
    grant_type: str | None = None
    error: str | None = None


RequestHook = Callable[[RequestRecord], None]


def no_hook(_record: RequestRecord) -> None:
    """The hook used when the caller gives none."""
