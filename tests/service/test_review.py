"""Review through the API: approve and reject go through ``remediator.review``, audited with
the person and the door, and a rejection is final with a callback."""

from __future__ import annotations

from pathlib import Path

from remediator.storage import Database
from remediator.storage.audit import AuditStore
from tests.service.conftest import (
    AUTH,
    Harness,
    TestClient,
    harness_for,
    post_failure,
    wait_for,
    wait_until,
)


def _waiting(harness: Harness, client: TestClient, *, callback: bool = False) -> str:
    harness.connect(client)
    client.put(
        f"/v1/connections/{harness.connection_id}",
        headers=AUTH,
        json={"policy": {"set_manual": "review"}},
    ).raise_for_status()
    run_id: str = post_failure(client, harness.failure(callback=callback)).json()["run_id"]
    assert wait_for(client, run_id)["state"] == "awaiting_review"
    return run_id


def _audit(harness: Harness, run_id: str) -> list[tuple[str, str, str, str | None]]:
    store = AuditStore(Database(harness.settings.database_url))
    return [(e.actor, e.via, e.action, e.detail) for e in store.for_run(run_id)]


def test_a_rejected_plan_is_final_audited_and_called_back(tmp_path: Path) -> None:
    harness = harness_for("series_not_manual", tmp_path)
    with harness.client() as client:
        run_id = _waiting(harness, client, callback=True)
        answer = client.post(
            f"/v1/runs/{run_id}/reject",
            headers=AUTH,
            json={"rejected_by": "Eva", "reason": "the restaurant  fixes it\nitself"},
        )
        assert answer.status_code == 200, answer.text
        run = answer.json()
        approve = client.post(f"/v1/runs/{run_id}/apply", headers=AUTH, json={"approved_by": "Eva"})
        again = client.post(
            f"/v1/runs/{run_id}/reject", headers=AUTH, json={"rejected_by": "Eva", "reason": "x"}
        )
        wait_until(lambda: any(b["state"] == "rejected" for b in harness.receiver.bodies()))
    assert run["state"] == "rejected"
    assert run["state_reason"] == "rejected by Eva: the restaurant fixes it itself"
    assert run["finished_at"] is not None
    assert (approve.status_code, again.status_code) == (409, 409)
    assert harness.sandbox.writes() == []
    assert _audit(harness, run_id) == [("Eva", "api", "reject", "the restaurant fixes it itself")]
    assert [b["state"] for b in harness.receiver.bodies()][-1] == "rejected"


def test_a_rejection_needs_a_reason_and_a_person(tmp_path: Path) -> None:
    harness = harness_for("series_not_manual", tmp_path)
    with harness.client() as client:
        run_id = _waiting(harness, client)
        blank = client.post(
            f"/v1/runs/{run_id}/reject", headers=AUTH, json={"rejected_by": "Eva", "reason": "  "}
        )
        nobody = client.post(
            f"/v1/runs/{run_id}/reject", headers=AUTH, json={"rejected_by": " ", "reason": "no"}
        )
        state = client.get(f"/v1/runs/{run_id}", headers=AUTH).json()["state"]
    assert (blank.status_code, nobody.status_code) == (400, 400)
    assert state == "awaiting_review"
    assert _audit(harness, run_id) == []


def test_approvals_and_refused_stale_approvals_are_audited(tmp_path: Path) -> None:
    harness = harness_for("series_not_manual", tmp_path)
    with harness.client() as client:
        run_id = _waiting(harness, client)
        company = next(iter(harness.sandbox.world.companies.values()))
        company.series[2]["F"].manual = True  # fixed by hand meanwhile
        stale = client.post(f"/v1/runs/{run_id}/apply", headers=AUTH, json={"approved_by": "Eva"})
        assert stale.status_code == 409
        assert wait_for(client, run_id, ("awaiting_review", "done"))["state"] == "done"
    trail = _audit(harness, run_id)
    assert [(a, v, act) for a, v, act, _ in trail] == [("Eva", "api", "approve_refused_stale")]
    assert "series_manual" in (trail[0][3] or "")


def test_an_approval_is_audited_with_the_person(tmp_path: Path) -> None:
    harness = harness_for("series_not_manual", tmp_path)
    with harness.client() as client:
        run_id = _waiting(harness, client)
        answer = client.post(f"/v1/runs/{run_id}/apply", headers=AUTH, json={"approved_by": "Ali"})
        assert answer.status_code == 202
        done = wait_for(client, run_id, ("done",))
    assert (done["outcome"], done["approved_by"]) == ("fixed", "Ali")
    assert _audit(harness, run_id) == [("Ali", "api", "approve", None)]


def test_a_policy_change_through_the_api_is_audited_as_the_tokens(tmp_path: Path) -> None:
    harness = harness_for("series_not_manual", tmp_path)
    with harness.client() as client:
        harness.connect(client)
        path = f"/v1/connections/{harness.connection_id}"
        for _ in range(2):  # the second changes nothing, and is not recorded
            client.put(path, headers=AUTH, json={"policy": {"set_manual": "review"}})
    store = AuditStore(Database(harness.settings.database_url))
    entries = store.for_connection(harness.connection_id)
    assert [(e.actor, e.via, e.action, e.detail) for e in entries] == [
        ("api token", "api", "policy", "set_manual: auto → review")
    ]
