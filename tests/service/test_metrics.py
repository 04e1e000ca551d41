"""The gauges /metrics reads from the database, as Prometheus text: every connection state (zero
too), days until each refresh token dies, the check-ahead runs by kind and outcome, each daily
job's last success."""

from __future__ import annotations

from collections import Counter

from remediator.fortnox import ConnectionStatus
from remediator.service.metrics import Metrics
from remediator.storage.overview import DAY, Overview

NOW = 1_800_000_000.0


def test_the_stored_gauges_in_the_exposition_format() -> None:
    overview = Overview(
        connections=Counter({ConnectionStatus.ACTIVE: 7, ConnectionStatus.NEEDS_RECONNECT: 1}),
        refresh_expires_at={"bistro-ljus": NOW + 44.5 * DAY, 'odd"id': NOW - DAY / 4},
        scheduled=Counter(
            {("series_not_manual", "fixed"): 2, ("account_inactive", "awaiting_review"): 1}
        ),
        last_success={"keepalive": NOW - 3600},
    )
    text = Metrics(lambda: 0, overview=lambda: overview, clock=lambda: NOW).render()
    expected = """\
# HELP remediator_connections Connections by state.
# TYPE remediator_connections gauge
remediator_connections{state="active"} 7
remediator_connections{state="needs_reconnect"} 1
remediator_connections{state="not_authorized"} 0
# HELP remediator_refresh_token_expires_in_days Days until each active connection's refresh token dies unless it is used.
# TYPE remediator_refresh_token_expires_in_days gauge
remediator_refresh_token_expires_in_days{connection_id="bistro-ljus"} 44.5
remediator_refresh_token_expires_in_days{connection_id="odd\\"id"} -0.25
# HELP remediator_scheduled_runs Runs of the check ahead (findings and fixes made ahead), by kind and outcome.
# TYPE remediator_scheduled_runs gauge
remediator_scheduled_runs{kind="account_inactive",outcome="awaiting_review"} 1
remediator_scheduled_runs{kind="series_not_manual",outcome="fixed"} 2
# HELP remediator_job_last_success_timestamp_seconds When each daily job last finished without error (seconds since the epoch).
# TYPE remediator_job_last_success_timestamp_seconds gauge
remediator_job_last_success_timestamp_seconds{job="keepalive"} 1799996400
"""
    assert expected in text


def test_with_nothing_stored_every_state_is_zero_and_the_other_families_empty() -> None:
    text = Metrics(lambda: 0).render()
    assert 'remediator_connections{state="active"} 0' in text.splitlines()
    for family in (
        "remediator_refresh_token_expires_in_days",
        "remediator_scheduled_runs",
        "remediator_job_last_success_timestamp_seconds",
    ):
        assert f"# TYPE {family} gauge" in text
        assert not [line for line in text.splitlines() if line.startswith(f"{family}{{")]
