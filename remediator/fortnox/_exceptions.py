"""Errors raised by the Fortnox connector.

    FortnoxError                    root of the connector's errors (a RemediatorError)
    ├── FortnoxTransportError       no usable answer: connection failed or timed out
    ├── WriteOutcomeUnknown         a POST timed out or met a 5xx: look before sending again
    ├── ReadOnlyViolation           a write on a client opened for a dry run; nothing was sent
    ├── FortnoxAPIError             Fortnox answered with an error status
    │   ├── BadRequest              400: Fortnox refused the request (most business errors)
    │   ├── Unauthorized            401
    │   ├── Forbidden               403
    │   ├── NotFound                404
    │   ├── RateLimited             429
    │   └── ServerError             5xx, or an HTML page from a gateway
    └── TokenError                  the OAuth token endpoint refused or could not be reached
        └── ConsentRequired         invalid_grant or no usable grant: a person must reconnect

Every error carries what support needs in a ticket (status, Fortnox code, message, X-Uid)
and never a token.
"""

from __future__ import annotations

from remediator.errors import RemediatorError
from remediator.fortnox._grants import ReconnectCause


class FortnoxError(RemediatorError):
    """Root of every error raised by the connector."""


class FortnoxTransportError(FortnoxError):
    """The request got no usable answer: connection refused, reset, or timed out."""

    def __init__(self, message: str, *, method: str, path: str, timed_out: bool) -> None:
        super().__init__(f"{message} [{method} {path}]")
        self.method, self.path, self.timed_out = method, path, timed_out


class WriteOutcomeUnknown(FortnoxError):
    """A POST may or may not have been applied: look for its result before any retry."""

    def __init__(self, method: str, path: str, cause: str) -> None:
        super().__init__(
            f"{method} {path} may or may not have been applied ({cause}): "
            "look for its result before sending it again"
        )
        self.method, self.path, self.cause = method, path, cause


class ReadOnlyViolation(FortnoxError):
    """A write was attempted through a client opened for a dry run. Nothing was sent."""

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"dry run: refused to send {method} {path} (this client is read-only)")
        self.method, self.path = method, path


class FortnoxAPIError(FortnoxError):
    """Fortnox answered with an error status."""

    def __init__(
        self,
        *,
        status: int,
        message: str,
        code: int | None = None,
        uid: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status, self.code, self.message, self.uid = status, code, message, uid
        self.method, self.path = method, path
        super().__init__(self._render())

    def _render(self) -> str:
        code = f" code {self.code}" if self.code is not None else ""
        where = f" [{self.method} {self.path}]" if self.method else ""
        uid = f" X-Uid {self.uid}" if self.uid else ""
        return f"Fortnox {self.status}{code}: {self.message}{where}{uid}"


class BadRequest(FortnoxAPIError):
    """400: Fortnox refused the request; most business errors arrive like this."""


class Unauthorized(FortnoxAPIError):
    """401: the access token was not accepted."""


class Forbidden(FortnoxAPIError):
    """403: the token or the user lacks the right."""


class NotFound(FortnoxAPIError):
    """404: no such resource (in that financial year)."""


class RateLimited(FortnoxAPIError):
    """429: over 25 requests in 5 s for this tenant."""


class ServerError(FortnoxAPIError):
    """5xx, or an HTML page from a gateway: Fortnox is not answering properly."""


class TokenError(FortnoxError):
    """The OAuth token endpoint refused or could not be reached."""

    def __init__(
        self, message: str, *, error: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.error, self.status = error, status

    @property
    def transient(self) -> bool:
        """Whether the same refresh may succeed later with nothing changed: the endpoint gave
        no usable answer (none, a 5xx, no refresh token in it) or the refresh lock was busy;
        not a refusal (``invalid_client``…) or a setup the remediator lacks."""
        if self.status is not None:
            return self.status >= 500  # noqa: PLR2004 - HTTP's server errors
        return self.error is None or self.error in _TRANSIENT_TOKEN_ERRORS


_TRANSIENT_TOKEN_ERRORS = frozenset({"refresh_token_missing", "lock_lost", "lock_timeout"})


class ConsentRequired(TokenError):
    """The grant is dead (invalid_grant, revoked, expired): a person must reconnect.

    ``cause`` says why when it is known: Fortnox invalidated it, or the remediator lost the
    rotated refresh token (a refresh that never finished)."""

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        status: int | None = None,
        cause: ReconnectCause | None = None,
    ) -> None:
        super().__init__(message, error=error, status=status)
        self.cause = cause
