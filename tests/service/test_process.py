"""The join window: a run joins an applied run of its kind only while that fix is fresh, counted
from the fix, so a steady stream of failures does not keep the window open."""

from __future__ import annotations

import pytest

from remediator.policy import Change
from remediator.service.process import Leader, Session
from remediator.storage.queue import QueuedRun
from remediator.storage.runs import RunState

FIXED_AT = 1_000_000.0
WINDOW = 60.0


def row(run_id: str, created_at: float, kind: str = "account_inactive") -> QueuedRun:
    fields: dict[str, object] = dict.fromkeys(QueuedRun.model_fields)
    fields |= {
        "id": run_id,
        "event_id": f"evt-{run_id}",
        "connection_id": "bistro",
        "mode": "plan",
        "state": RunState.RUNNING,
        "kind": kind,
        "failure": "{}",
        "created_at": created_at,
    }
    return QueuedRun.model_validate(fields)


def session() -> Session:
    leader = Leader("first", FIXED_AT, frozenset({Change.ACTIVATE_ACCOUNT}))
    return Session("bistro", leaders={"account_inactive": leader})


@pytest.mark.parametrize(
    ("created_at", "joins"),
    [
        (FIXED_AT - 5, True),  # arrived while the fix was being made
        (FIXED_AT + WINDOW - 1, True),
        (FIXED_AT + WINDOW + 1, False),
    ],
)
def test_a_run_joins_only_within_the_window_from_the_fix(created_at: float, joins: bool) -> None:
    found = session().leader_for(row("later", created_at), WINDOW)
    assert (found is not None) is joins


def test_a_stream_of_runs_does_not_keep_the_window_open() -> None:
    current = session()
    arrivals = [FIXED_AT + step for step in range(0, 200, 20)]  # every 20 s, for 200 s
    joined = [
        current.leader_for(row(f"r{n}", at), WINDOW) is not None for n, at in enumerate(arrivals)
    ]
    assert joined == [at - FIXED_AT <= WINDOW for at in arrivals]
    assert joined.count(True) == 4


def test_a_run_never_joins_itself_or_another_kind() -> None:
    current = session()
    assert current.leader_for(row("first", FIXED_AT), WINDOW) is None
    assert current.leader_for(row("x", FIXED_AT, kind="series_missing"), WINDOW) is None
