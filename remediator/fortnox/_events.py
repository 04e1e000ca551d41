"""What the connector reports about every request it makes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # the rest may change the company's books


@dataclass(frozen=True)
class RequestRecord:
    """One request to Fortnox: never a token, never a body."""

    READS: ClassVar[frozenset[str]] = SAFE_METHODS
    kind: Literal["api", "token"]
    method: str
    path: str
    status: int | None
    duration: float
    tenant: str | None = None
    code: int | None = None
    grant_type: str | None = None
    error: str | None = None

    @property
    def writes(self) -> bool:
        """Whether this request may have changed the company in Fortnox (an API call other
        than a read; a token call changes only the grant)."""
        return self.kind == "api" and self.method not in self.READS


RequestHook = Callable[[RequestRecord], None]


def no_hook(_record: RequestRecord) -> None:
    """The hook used when the caller gives none."""
