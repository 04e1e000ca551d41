"""The human rendering of a report, in Swedish and English."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from rich.console import Console

from remediator.kinds import ErrorKind
from remediator.render import Lang, render
from remediator.report import (
    Call,
    ExportRef,
    Outcome,
    Recognition,
    Report,
    Requests,
    Restaurant,
    Step,
    Steps,
    StepStatus,
    Text,
)

NOW = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)


def make_step(status: StepStatus, **fields: Any) -> Step:
    defaults: dict[str, Any] = {
        "action": "series_manual",
        "summary": Text(sv=f"steg {status.value}", en=f"step {status.value}"),
    }
    return Step(status=status, **(defaults | fields))


def make_report(**fields: Any) -> Report:
    defaults: dict[str, Any] = {
        "run_id": "run-42",
        "event_id": "evt-1",
        "connection_id": "bistro",
        "restaurant": Restaurant(id="r1", name="Bistro Ljus"),
        "export": ExportRef(kind="z_report", id="z-812", date=date(2026, 3, 2), voucher_series="F"),
        "mode": "apply",
        "recognition": Recognition(kind=ErrorKind.SERIES_NOT_MANUAL, matched_by="code"),
        "outcome": Outcome.FIXED,
        "summary": Text(sv="Åtgärdat: serien.", en="Fixed: the series."),
        "explanation": Text(sv="Serien var inte manuell.", en="The series was not manual."),
        "requests": Requests(by_method={"GET": 3, "POST": 1, "PUT": 1}, token_calls=1, total=6),
        "started_at": NOW,
        "finished_at": NOW,
    }
    return Report(**(defaults | fields))


def rendered(report: Report, lang: Lang) -> str:
    buffer = io.StringIO()
    render(report, lang, Console(file=buffer, width=200, color_system=None))
    return buffer.getvalue()


def lines(text: str) -> list[str]:
    """The panel's content lines, borders and padding removed."""
    return [line.strip("│╭╮╰╯─ ").rstrip() for line in text.splitlines()]


CHANGED = make_step(
    StepStatus.CHANGED,
    summary=Text(sv="Serie F är nu manuell.", en="Series F is now manual."),
    before={"exists": True, "manual": False},
    after={"exists": True, "manual": True},
    calls=[Call(method="PUT", path="/3/voucherseries/F?financialyear=2")],
    policy="policy set_manual=auto: allowed",
)


@pytest.mark.parametrize(
    ("lang", "labels"),
    [
        (
            "sv",
            ["Vad gick fel", "Vad remediatorn gjorde", "Vad ni behöver göra", "Anrop till Fortnox"],
        ),
        (
            "en",
            [
                "What went wrong",
                "What the remediator did",
                "What you need to do",
                "Requests to Fortnox",
            ],
        ),
    ],
)
def test_sections_in_each_language(lang: Lang, labels: list[str]) -> None:
    out = rendered(make_report(steps=[CHANGED]), lang)
    positions = [out.index(label) for label in labels]
    assert positions == sorted(positions), "what went wrong, what was done, what is left"
    other = "What went wrong" if lang == "sv" else "Vad gick fel"
    assert other not in out


def test_header_summary_and_explanation() -> None:
    out = rendered(make_report(), "sv")
    assert "Bistro Ljus · Z-rapport 2026-03-02 · series_not_manual · apply" in out
    assert "run run-42" in out
    assert "Åtgärdat: serien." in out
    assert "Serien var inte manuell." in out
    out = rendered(make_report(), "en")
    assert "Fixed: the series." in out
    assert "The series was not manual." in out


def test_a_change_shows_before_and_after_and_the_policy() -> None:
    out = lines(rendered(make_report(steps=[CHANGED]), "en"))
    at = out.index("✓ changed  Series F is now manual.")
    assert out[at + 1] == '{"exists": true, "manual": false} → {"exists": true, "manual": true}'
    assert out[at + 2] == "(policy set_manual=auto: allowed)"
    assert not any("PUT /3/voucherseries" in line for line in out), "calls only in a plan"


def test_a_plan_shows_the_calls_it_would_make() -> None:
    step = CHANGED.model_copy(
        update={
            "status": StepStatus.WOULD_CHANGE,
            "summary": Text(sv="Öppna serie F.", en="Open series F."),
        }
    )
    out = lines(rendered(make_report(mode="plan", outcome=Outcome.WOULD_FIX, steps=[step]), "sv"))
    assert "Vad remediatorn skulle göra" in out
    at = out.index("→ skulle ändras  Öppna serie F.")
    assert out[at + 2] == "PUT /3/voucherseries/F?financialyear=2"


@pytest.mark.parametrize(
    ("status", "sv", "en"),
    [
        (StepStatus.OK, "✓ ok", "✓ ok"),
        (StepStatus.CHANGED, "✓ ändrat", "✓ changed"),
        (StepStatus.WOULD_CHANGE, "→ skulle ändras", "→ would change"),
        (StepStatus.NEEDS_MANUAL, "! kräver en person", "! needs a person"),
        (StepStatus.FAILED, "✗ misslyckades", "✗ failed"),
        (StepStatus.SKIPPED, "– hoppades över", "– skipped"),
    ],
)
def test_every_step_status_is_named(status: StepStatus, sv: str, en: str) -> None:
    report = make_report(steps=[make_step(status)])
    assert f"{sv}" in rendered(report, "sv")
    assert f"{en}" in rendered(report, "en")


def test_failed_and_skipped_steps_give_their_reason_ok_steps_no_policy() -> None:
    steps = [
        make_step(StepStatus.OK, policy="policy x=auto: allowed"),
        make_step(StepStatus.FAILED, reason="Fortnox answered 500"),
        make_step(StepStatus.SKIPPED, reason="not checked: an earlier step needs attention first"),
    ]
    out = rendered(make_report(outcome=Outcome.FAILED, steps=steps), "en")
    assert "Fortnox answered 500" in out
    assert "not checked: an earlier step needs attention first" in out
    assert "policy x=auto" not in out


def test_manual_steps_are_numbered() -> None:
    manual = Steps(
        sv=["Öppna Fortnox.", "Kryssa i Manuell kontering."], en=["Open Fortnox.", "Tick it."]
    )
    report = make_report(outcome=Outcome.MANUAL_ACTION_REQUIRED, manual_steps=manual)
    assert [line for line in lines(rendered(report, "sv")) if line[:2] in ("1.", "2.")] == [
        "1. Öppna Fortnox.",
        "2. Kryssa i Manuell kontering.",
    ]
    assert "2. Tick it." in rendered(report, "en")


def test_nothing_left_to_do() -> None:
    assert "Inget kvar att göra för hand." in rendered(make_report(), "sv")
    assert "Nothing left to do by hand." in rendered(make_report(), "en")


def test_request_counts() -> None:
    assert "Anrop till Fortnox: GET 3, POST 1, PUT 1 (token 1)" in rendered(make_report(), "sv")
    empty = make_report(requests=Requests())
    assert "Requests to Fortnox: 0 (token 0)" in rendered(empty, "en")


def test_renders_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    render(make_report(), "en")
    assert "Fixed: the series." in capsys.readouterr().out
