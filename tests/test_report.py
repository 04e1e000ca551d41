"""The report model and its committed JSON Schema (contract 2)."""

from __future__ import annotations

import json
from pathlib import Path

from remediator.report import Outcome, StepStatus, json_schema

SCHEMA = Path(__file__).parents[1] / "docs" / "report.schema.json"


def test_committed_schema_is_up_to_date() -> None:
    committed = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert committed == json_schema(), (
        "docs/report.schema.json is stale: python -m remediator.report > docs/report.schema.json"
    )


def test_schema_names_every_outcome_and_step_status() -> None:
    schema = json_schema()
    defs = schema["$defs"]
    assert (
        set(defs["Outcome"]["enum"])
        == {o.value for o in Outcome}
        == {
            "fixed",
            "nothing_to_fix",
            "would_fix",
            "manual_action_required",
            "failed",
            "unrecognized",
        }
    )
    assert set(defs["StepStatus"]["enum"]) == {s.value for s in StepStatus}
    required = set(schema["required"])
    assert {"run_id", "event_id", "mode", "recognition", "outcome", "summary"} <= required
