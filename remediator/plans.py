"""Saved plans: a dry run's report with its failure, applied later only if Fortnox still looks
the way it did when the plan was made."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from remediator.errors import UsageError
from remediator.failure import ExportFailure
from remediator.policy import Policy, Rule
from remediator.report import Report, StepStatus


class StalePlanError(UsageError):
    """Fortnox changed since the plan was made: the plan is not applied."""


class SavedPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    plan_version: Literal[1] = 1
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    failure: ExportFailure
    report: Report

    def write(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2, by_alias=True), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> SavedPlan:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise UsageError(f"cannot read plan {path}: {err.strerror}") from None
        try:
            return cls.model_validate_json(text)
        except ValidationError as err:
            problems = [_problem(error) for error in err.errors()]
            more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""  # noqa: PLR2004
            raise UsageError(
                f"{path} is not a saved plan ({'; '.join(problems[:3])}{more})"
            ) from None

    def save(self, path: Path) -> None:
        """``write``, with a failure to write as a usage error (one line for a person)."""
        try:
            self.write(path)
        except OSError as err:
            raise UsageError(f"cannot write plan {path}: {err.strerror}") from None


def _problem(error: Any) -> str:
    if error["type"] == "json_invalid":
        return f"not JSON: {error['ctx'].get('error', error['msg'])}"
    where = ".".join(str(p) for p in error["loc"]) or "(top level)"
    return f"{where}: {error['msg']}"


def observations(report: Report) -> list[tuple[str, dict[str, Any]]]:
    """What each step read from Fortnox, in order: the plan's fingerprint of Fortnox."""
    return [(step.action, step.observed) for step in report.steps]


def differences(planned: Report, now: Report) -> list[str]:
    """How Fortnox differs now from when the plan was made (empty: the plan still holds)."""
    before, after = observations(planned), observations(now)
    if [a for a, _ in before] != [a for a, _ in after]:
        return ["the plan's steps are no longer the same"]
    changes: list[str] = []
    for (action, old), (_, new) in zip(before, after, strict=True):
        changes.extend(
            f"{action} {key}: {_short(old.get(key))} → {_short(new.get(key))}"
            for key in sorted(set(old) | set(new))
            if old.get(key) != new.get(key)
        )
    return changes


def _short(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def waits_for_review(plan: Report, policy: Policy) -> bool:
    """Whether a planned change is one the policy lets through only after a person's review."""
    return any(
        step.status is StepStatus.WOULD_CHANGE
        and step.change is not None
        and policy.rule(step.change) is Rule.REVIEW
        for step in plan.steps
    )
