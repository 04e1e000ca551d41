"""End to end over TCP: the real ``remediator sandbox`` and ``remediator serve`` as
subprocesses on free loopback ports, a local callback receiver, signed failures for each of the
six Backoffice errors; then ``kill -9`` of the service mid-run and a restart."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from remediator import signing
from tests.service.conftest import (
    API_TOKEN,
    AUTH,
    CALLBACK_SECRET,
    INTAKE_SECRET,
    reconnect_link,
    wait_until,
)
from tests.service.e2e import (
    HOLD_SECONDS,
    Stack,
    connect_all,
    make_stack,
    sandbox_state,
    send,
    settled,
)

pytestmark = pytest.mark.slow
EXPECTED = {
    "series_not_manual": ("done", "fixed"),
    "chart_of_accounts_missing": ("done", "manual_action_required"),
    "account_inactive": ("done", "fixed"),
    "series_missing": ("done", "fixed"),
    "access_denied": ("done", "manual_action_required"),
    "connection_invalidated": ("awaiting_reconnect", "manual_action_required"),
}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with make_stack(tmp_path, f"sqlite:///{tmp_path / 'service.db'}") as made:
        yield made


def test_the_six_backoffice_errors_end_to_end(stack: Stack) -> None:
    stack.serve()
    with httpx.Client(base_url=stack.service_url, headers=AUTH, timeout=10) as http:
        assert http.get("/healthz").status_code == 200
        connect_all(http, stack)
        runs = {name: send(http, stack.failure(name)) for name in EXPECTED}
        final = {
            name: settled(http, run_id, ("done", "awaiting_reconnect", "awaiting_review"))
            for name, run_id in runs.items()
        }
        assert {n: (r["state"], r["outcome"]) for n, r in final.items()} == EXPECTED

        # the restaurant opens the link of its report: no api token
        link = reconnect_link(final["connection_invalidated"]["report"])
        opened = httpx.get(f"{stack.service_url}{link}", headers={"Accept": "application/json"})
        assert opened.status_code == 200, opened.text
        consent = httpx.get(opened.json()["authorize_url"])
        assert consent.status_code == 302
        callback = urlsplit(consent.headers["location"])
        answer = http.get(f"{callback.path}?{callback.query}")
        assert answer.status_code == 200
        reconnected = settled(http, runs["connection_invalidated"], ("done",))
        assert reconnected["outcome"] == "fixed"  # the waiting run booked the day
        assert reconnected["report"]["resent"] is True
        metrics = http.get("/metrics").text

    tenants = sandbox_state(stack)["tenants"]
    by_name = {n: tenants[e["grant"]["tenant_id"]] for n, e in stack.examples.items()}
    booked = ("series_not_manual", "account_inactive", "series_missing", "connection_invalidated")
    for name in booked:
        vouchers = [v for year in by_name[name]["vouchers"].values() for v in year]
        assert len(vouchers) == 1, name
    for name in ("chart_of_accounts_missing", "access_denied"):
        assert all(not year for year in by_name[name]["vouchers"].values()), name
    assert 3001 not in by_name["account_inactive"]["inactive_accounts"]["2"]

    deliveries: dict[str, list[str]] = {}
    for header, body in stack.receiver.received:
        signing.verify(header, body, CALLBACK_SECRET)
        sent = json.loads(body)
        deliveries.setdefault(sent["run_id"], []).append(sent["state"])
    assert {n: deliveries[r][-1] for n, r in runs.items()} == dict.fromkeys(EXPECTED, "done")
    assert deliveries[runs["connection_invalidated"]] == ["awaiting_reconnect", "done"]
    assert 'remediator_runs_total{outcome="fixed"} 4' in metrics  # + the reconnected one
    text = stack.log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line[:1] == "{"]
    assert any(line.get("run_id") == runs["account_inactive"] for line in lines)
    secrets = [INTAKE_SECRET, API_TOKEN, CALLBACK_SECRET, stack.env["REMEDIATOR_SECRET_KEY"]]
    secrets += [stack.env["REMEDIATOR_CLIENT_SECRET"], callback.query, link.partition("?")[2]]
    secrets += [e["grant"]["refresh_token"] for e in stack.examples.values()]
    assert [secret for secret in secrets if secret in text] == []


def state(http: httpx.Client, run_id: str) -> str:
    return str(http.get(f"/v1/runs/{run_id}").json()["state"])


def test_kill_9_mid_run_loses_nothing_and_posts_no_voucher_twice(stack: Stack) -> None:
    # The killed process's company leases stay until they expire: the restarted one waits.
    stack.env["REMEDIATOR_LEASE_SECONDS"] = "2"
    service = stack.serve()
    days = [f"2026-02-{day:02d}" for day in range(10, 15)]
    faults = {"latency": 0.1}
    assert httpx.put(f"{stack.sandbox_url}/_sandbox/faults", json=faults).status_code == 200
    with httpx.Client(base_url=stack.service_url, headers=AUTH, timeout=10) as http:
        connect_all(http, stack)
        ids = [send(http, stack.failure("account_inactive", day)) for day in days]
        ids += [send(http, stack.failure("series_missing", day)) for day in days[:3]]
        # A third company works one run first: its token is refreshed before the hold below.
        warm = send(http, stack.failure("series_not_manual", days[0]))
        ids.append(warm)
        wait_until(lambda: [state(http, run_id) for run_id in ids].count("done") >= 2, 60)
        wait_until(lambda: state(http, warm) == "done", 60)
        # From now on every /3 call is held inside the sandbox until the faults change: a run
        # of an idle company that starts now cannot settle, so once it runs it is killed mid-run
        # (inside Fortnox, not while refreshing its token: an access token lives an hour).
        hold = {"latency": HOLD_SECONDS}
        assert httpx.put(f"{stack.sandbox_url}/_sandbox/faults", json=hold).status_code == 200
        caught = send(http, stack.failure("series_not_manual", days[1]))
        ids.append(caught)
        wait_until(lambda: state(http, caught) == "running", 60)
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=5)
    httpx.put(f"{stack.sandbox_url}/_sandbox/faults", json={})  # lets the held calls go
    stack.serve()
    with httpx.Client(base_url=stack.service_url, headers=AUTH, timeout=10) as http:
        final = [settled(http, run_id, ("done",)) for run_id in ids]
    assert {run["outcome"] for run in final} <= {"fixed", "nothing_to_fix"}
    assert "run resumed: the process working it is gone" in stack.log.read_text()
    assert all(run["report"] is not None for run in final)
    tenants = sandbox_state(stack)["tenants"]
    for name, count in (("account_inactive", 5), ("series_missing", 3), ("series_not_manual", 2)):
        tenant = tenants[stack.examples[name]["grant"]["tenant_id"]]
        vouchers = [v for year in tenant["vouchers"].values() for v in year]
        dates = [v["TransactionDate"] for v in vouchers]
        assert sorted(dates) == sorted(set(dates)), f"{name}: a voucher was posted twice"
        assert len(vouchers) == count, name
