"""The report of a run (contract 2): what was recognised, done, left to do, and what it cost.

Its JSON Schema is committed at ``docs/report.schema.json``; regenerate it with
``python -m remediator.report > docs/report.schema.json`` (a test fails when it is stale).
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from remediator.kinds import Kind
from remediator.policy import Change
from remediator.timestamps import Timestamp

if TYPE_CHECKING:
    from remediator.failure import ExportFailure

Mode = Literal["plan", "apply"]


class Outcome(StrEnum):
    FIXED = "fixed"
    NOTHING_TO_FIX = "nothing_to_fix"
    WOULD_FIX = "would_fix"
    MANUAL_ACTION_REQUIRED = "manual_action_required"
    FAILED = "failed"
    UNRECOGNIZED = "unrecognized"


class StepStatus(StrEnum):
    OK = "ok"  # checked, already right
    CHANGED = "changed"  # written and verified
    WOULD_CHANGE = "would_change"  # plan: would be written on apply
    NEEDS_MANUAL = "needs_manual"  # a person must act
    FAILED = "failed"  # could not check, write or verify
    SKIPPED = "skipped"  # not checked, with the reason


class ReportModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(ReportModel):
    """One text for people, in Swedish and English."""

    sv: str
    en: str


class Steps(ReportModel):
    """Numbered instructions for a person, in Swedish and English."""

    sv: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)


class Call(ReportModel):
    """A write to Fortnox, made (apply) or planned (plan)."""

    method: str
    path: str
    body: dict[str, Any] | None = None


class Step(ReportModel):
    """One action of the playbook: what it found, decided and did."""

    action: str
    status: StepStatus
    summary: Text
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    calls: list[Call] = Field(default_factory=list)
    change: Change | None = Field(
        default=None,
        description="The kind of change (a policy key) the step made, would make, or was "
        "stopped from making by the policy; null for steps that only read.",
    )
    resend: bool = Field(
        default=False, description="Whether the step's change is the re-send of the failed voucher."
    )
    policy: str | None = Field(
        default=None, description="For people: the rule that governed the change, and its verdict."
    )
    unconfirmed: bool = Field(
        default=False,
        description="The step's write met an unknown outcome (the connection dropped, a "
        "timeout, a 5xx) and a look in Fortnox did not find it: it was not sent again. Trying "
        "again later, looking first, is safe.",
    )
    unavailable: bool = Field(
        default=False,
        description="The step failed because Fortnox did not answer it (a 5xx or the rate "
        "limit after every retry, a timeout, a dropped connection): nothing was found wrong, "
        "and trying again later is safe.",
    )
    reason: str | None = None
    observed: dict[str, Any] = Field(default_factory=dict)
    manual: Steps = Field(default_factory=Steps)


class Recognition(ReportModel):
    kind: Kind
    matched_by: str
    params: dict[str, str] = Field(default_factory=dict)
    playbook: str | None = None


class VoucherResult(ReportModel):
    """The re-sent export's voucher in Fortnox (new, or found already booked)."""

    series: str
    number: int | None = None
    year: int | None = None
    already_booked: bool = False
    keyed: bool = Field(
        default=False,
        description="Found already booked, with the export's key on it: the remediator sent it "
        "earlier (a pass of this run that was interrupted before it reported, or another fix of "
        "the same export). False: the Backoffice's own voucher, stored after all.",
    )


class Requests(ReportModel):
    """Fortnox requests made by the run: API calls by method, token calls apart."""

    by_method: dict[str, int] = Field(default_factory=dict)
    token_calls: int = 0
    total: int = 0


class Restaurant(ReportModel):
    id: str
    name: str

    @classmethod
    def of(cls, failure: ExportFailure) -> Restaurant:
        return cls(id=failure.restaurant.id, name=failure.restaurant.name)


class ExportRef(ReportModel):
    kind: str = Field(
        description="`z_report`; `preflight` for a check ahead's run (the export is to come)."
    )
    id: str
    date: date
    voucher_series: str

    @classmethod
    def of(cls, failure: ExportFailure) -> ExportRef:
        export = failure.export
        return cls(
            kind=export.kind, id=export.id, date=export.date, voucher_series=export.voucher_series
        )


class Report(ReportModel):
    """Everything a run decided and did; stored, returned by the API and printed by the CLI."""

    report_version: Literal[1] = 1
    run_id: str
    event_id: str
    connection_id: str
    restaurant: Restaurant
    export: ExportRef
    mode: Mode
    recognition: Recognition
    outcome: Outcome = Field(
        description="How the run ended. A preflight's run (export.kind `preflight`: a check "
        "ahead, docs/ahead.md) has no voucher: `fixed` means the cause was fixed ahead of the "
        "export and verified, and nothing was booked or re-sent."
    )
    steps: list[Step] = Field(default_factory=list)
    manual_steps: Steps = Field(default_factory=Steps)
    summary: Text
    explanation: Text
    resent: bool = Field(
        default=False,
        description="Whether the failed voucher was sent again (never for a preflight).",
    )
    voucher: VoucherResult | None = None
    requests: Requests = Field(default_factory=Requests)
    started_at: Timestamp
    finished_at: Timestamp

    @property
    def kind(self) -> Kind:
        return self.recognition.kind


def json_schema() -> dict[str, Any]:
    schema = Report.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://fortnox-remediator/schemas/report.schema.json"
    return schema


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))  # noqa: T201
