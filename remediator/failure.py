"""The export failure the Backoffice reports (contract 1), and its parsing with clear errors."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from remediator import strict_json
from remediator.errors import UsageError
from remediator.fortnox import Voucher

MAX_ERROR_BODY = 65_536  # characters of ``error.body`` as JSON: Fortnox's bodies are small


class InvalidFailure(UsageError):
    """A failure that cannot be accepted; the message lists every problem, one per line (a
    single problem stays on the first line)."""

    def __init__(self, problems: list[str], source: str = "the failure") -> None:
        self.problems = problems
        head = f"{source} is not a valid export failure:"
        if len(problems) == 1:
            super().__init__(f"{head} {problems[0]}")
        else:
            super().__init__(head + "".join(f"\n  {problem}" for problem in problems))


class FailureModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RestaurantRef(FailureModel):
    id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)


# ``preflight``: no export failed; the remediator's own check of a coming day (remediator.ahead)
# stands in for the export it expects. Only the remediator makes these: intake refuses them.
PREFLIGHT = "preflight"
MAX_ACCOUNTS = 100


class ExportInfo(FailureModel):
    kind: Literal["z_report", "preflight"] = "z_report"
    id: str = Field(min_length=1, max_length=200)
    date: date
    voucher_series: str = Field(default="F", min_length=1, max_length=10)
    voucher: Voucher | None = None
    # A preflight's: the accounts the restaurant's exports use (there is no voucher yet).
    accounts: list[int] | None = Field(default=None, max_length=MAX_ACCOUNTS)

    @model_validator(mode="after")
    def _accounts_only_ahead(self) -> ExportInfo:
        if self.accounts is not None and self.kind != PREFLIGHT:
            raise ValueError("accounts: only a preflight names accounts instead of a voucher")
        return self

    @field_validator("voucher", mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1 and "Voucher" in value:
            return value["Voucher"]
        return value

    @field_validator("voucher_series", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


_CODE_DIGITS = 10


def error_code(text: str) -> int | None:
    """A Fortnox error code written as text (ASCII digits, at most 20), else ``None``."""
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= _CODE_DIGITS:
        return int(text)
    return None


class ErrorInfo(FailureModel):
    message: str = Field(max_length=5000)
    code: int | None = Field(default=None, strict=True)  # digit strings are converted below
    http_status: int | None = Field(default=None, ge=100, le=599)
    body: Any = None

    @field_validator("code", mode="before")
    @classmethod
    def _numeric_code(cls, value: Any) -> Any:
        code = error_code(value) if isinstance(value, str) else None
        return value if code is None else code

    @field_validator("body")
    @classmethod
    def _small_body(cls, value: Any) -> Any:
        if value is not None and len(json.dumps(value, default=str)) > MAX_ERROR_BODY:
            raise ValueError(f"too large (at most {MAX_ERROR_BODY} characters as JSON)")
        return value


class ExportFailure(FailureModel):
    """One failed export, as the Backoffice reports it."""

    event_id: str = Field(min_length=1, max_length=200)
    restaurant: RestaurantRef
    connection_id: str = Field(min_length=1, max_length=100)
    export: ExportInfo
    error: ErrorInfo
    callback_url: AnyHttpUrl | None = None

    @property
    def ahead(self) -> bool:
        """A preflight: the remediator's check of a coming day, not a failed export. Nothing
        is re-sent; what is fixed is fixed ahead of the export."""
        return self.export.kind == PREFLIGHT

    @property
    def export_key(self) -> str:
        """A deterministic key put in a re-sent voucher's Comments, to find it again."""
        return f"zr:{self.restaurant.id}:{self.export.id}"


_MESSAGES = {
    "missing": "required, but missing",
    "extra_forbidden": "not a known field",
    "date_from_datetime_parsing": "not a date (expected YYYY-MM-DD)",
    "date_parsing": "not a date (expected YYYY-MM-DD)",
    "date_type": "not a date (expected YYYY-MM-DD)",
    "string_too_short": "must not be empty",
    "string_too_long": "too long (at most {max_length} characters)",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be one of: {expected}",
    "int_parsing": "not a whole number",
    "int_type": "not a whole number",
    "url_parsing": "not a web address (http:// or https://)",
    "url_scheme": "not a web address (http:// or https://)",
    "string_type": "must be text",
    "model_type": "must be an object",
    "dict_type": "must be an object",
}


_SHOWN = 60  # characters of a wrong value quoted back; the rest is cut


def _where(loc: tuple[Any, ...]) -> str:
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return where.lstrip(".") or "(top level)"


def _got(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + "…"


# What a sender may put there (a preflight is the remediator's own, never a sender's).
_SENDERS_CHOICE = {("export", "kind"): {"expected": "'z_report'"}}


def _describe(error: Any) -> str:
    template = _MESSAGES.get(error["type"], error["msg"])
    values = (error.get("ctx") or {}) | _SENDERS_CHOICE.get(tuple(error["loc"]), {})
    text = template.format(**values) if "{" in template else template
    if (
        error["type"] != "missing"
        and "input" in error
        and not isinstance(error["input"], dict | list)
    ):
        text += f", got {_got(error['input'])}"
    return f"{_where(error['loc'])}: {text}"


def parse_failure(
    data: str | bytes, source: str = "the failure", *, preflight: bool = False
) -> ExportFailure:
    """Parse a failure, or raise ``InvalidFailure`` naming every problem at once.

    The text must be JSON as ``strict_json`` takes it (UTF-8, valid Unicode, finite numbers,
    at most ``strict_json.MAX_DEPTH`` levels deep): the limits a stored failure is read back
    with, so whatever is accepted can be worked. ``preflight``: accept the remediator's own
    preflights (stored runs); a failure from outside is never one."""
    try:
        parsed = strict_json.loads(data)
    except strict_json.InvalidJSON as err:
        raise InvalidFailure([err.problem], source) from None
    if not isinstance(parsed, dict):
        raise InvalidFailure(["must be a JSON object"], source)
    try:
        failure = ExportFailure.model_validate(parsed)
    except ValidationError as err:
        raise InvalidFailure([_describe(e) for e in err.errors()], source) from None
    if failure.ahead and not preflight:
        raise InvalidFailure(
            ['export.kind: "preflight" is the remediator\'s own; an export is "z_report"'], source
        )
    return failure


def stored_failure(text: str) -> ExportFailure:
    """A failure as intake stored it, read back with the limits it was accepted under."""
    return parse_failure(text, source="the stored failure", preflight=True)


def salvaged(text: str) -> ExportFailure | None:
    """What can be read of a stored failure that does not read back whole (stored before its
    limits were checked at intake): everything but ``error.body``, or ``None``."""
    try:
        data = json.loads(text)
        data["error"]["body"] = None
        return ExportFailure.model_validate(data)
    except Exception:  # noqa: BLE001 - anything unreadable: there is nothing to salvage
        return None


def storable(failure: ExportFailure) -> str:
    """The failure as JSON to store. It reads back (``stored_failure``) under the limits it was
    accepted under: the dump keeps what was parsed (its nesting, less the voucher's wrapper;
    its numbers; its text), so intake does not parse it again to be sure
    (tests/test_failure.py checks it on whatever intake accepts)."""
    return failure.model_dump_json(by_alias=True)
