"""Runs in the console: the list (filters, counts, paging), a run's page, and its review —
approve applies the reviewed plan, a stale plan shows its differences, reject needs a reason."""

from __future__ import annotations

import re

from remediator.console.runs import PAGE_SIZE
from tests.console.conftest import Desk, csrf_of
from tests.service.conftest import AUTH, post_failure, wait_for, wait_until


def _writes(desk: Desk) -> list[tuple[str, str]]:
    return [(w["method"], w["path"]) for w in desk.harness.sandbox.writes()]


def test_approving_applies_the_plan_and_records_the_person(signed_in: Desk) -> None:
    run_id = signed_in.waiting_run(callback=True)
    page = signed_in.client.get(f"/console/runs/{run_id}")
    assert "Godkänn och tillämpa" in page.text
    assert "Verifikationsserien är inte manuell (F)" in page.text  # the error as sent
    assert "series_not_manual" in page.text
    assert _writes(signed_in) == []
    answer = signed_in.client.post(
        f"/console/runs/{run_id}/approve", data={"csrf": csrf_of(page)}, follow_redirects=False
    )
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        f"/console/runs/{run_id}?note=approved",
    )
    done = wait_for(signed_in.client, run_id, ("done",))
    assert (done["outcome"], done["approved_by"]) == ("fixed", "eva")
    assert _writes(signed_in) == [("PUT", "/3/voucherseries/F"), ("POST", "/3/vouchers")]
    assert len(signed_in.harness.vouchers()) == 1
    shown = signed_in.client.get(f"/console/runs/{run_id}").text
    assert "Åtgärdad" in shown
    assert "eva" in shown  # the audit trail
    trail = [(e.actor, e.via, e.action) for e in signed_in.audit.for_run(run_id)]
    assert trail == [("eva", "console", "approve")]
    wait_until(lambda: bool(signed_in.harness.receiver.bodies()))


def test_a_stale_plan_is_refused_with_its_differences(signed_in: Desk) -> None:
    run_id = signed_in.waiting_run()
    company = next(iter(signed_in.harness.sandbox.world.companies.values()))
    company.series[2]["F"].manual = True  # fixed by hand meanwhile
    page = signed_in.client.get(f"/console/runs/{run_id}")
    answer = signed_in.client.post(f"/console/runs/{run_id}/approve", data={"csrf": csrf_of(page)})
    assert answer.status_code == 409
    assert "Fortnox har ändrats sedan planen gjordes" in answer.text
    assert "series_manual" in answer.text
    assert _writes(signed_in) == []
    trail = [(e.actor, e.action) for e in signed_in.audit.for_run(run_id)]
    assert trail == [("eva", "approve_refused_stale")]


def test_rejecting_needs_a_reason_and_ends_the_run(signed_in: Desk) -> None:
    run_id = signed_in.waiting_run()
    page = signed_in.client.get(f"/console/runs/{run_id}")
    blank = signed_in.client.post(
        f"/console/runs/{run_id}/reject", data={"csrf": csrf_of(page), "reason": "  "}
    )
    assert blank.status_code == 400
    assert "a rejection needs a reason" in blank.text
    answer = signed_in.client.post(
        f"/console/runs/{run_id}/reject",
        data={"csrf": csrf_of(page), "reason": "Restaurangen rättar själv"},
    )
    assert answer.status_code == 200  # followed to the run's page
    assert "Avvisad" in answer.text
    assert "Restaurangen rättar själv" in answer.text
    run = signed_in.client.get(f"/v1/runs/{run_id}", headers=AUTH).json()
    assert run["state"] == "rejected"
    assert _writes(signed_in) == []
    again = signed_in.client.post(f"/console/runs/{run_id}/approve", data={"csrf": csrf_of(page)})
    assert again.status_code == 409


def test_the_list_filters_counts_and_pages(signed_in: Desk) -> None:
    waiting = signed_in.waiting_run(day="2026-03-02")
    client = signed_in.client
    client.put(
        f"/v1/connections/{signed_in.harness.connection_id}",
        headers=AUTH,
        json={"policy": {"set_manual": "never"}},
    ).raise_for_status()
    others = [
        post_failure(
            client, signed_in.harness.failure(f"evt-{n}", day=f"2026-02-{n + 1:02d}")
        ).json()["run_id"]
        for n in range(PAGE_SIZE)
    ]
    for run_id in others:
        wait_for(client, run_id)
    everything = client.get("/console/runs")
    assert f"Sida 1 av 2 ({PAGE_SIZE + 1} körningar)" in everything.text
    counts = dict(re.findall(r'status=(\w+)">[^<]*<strong>(\d+)</strong>', everything.text))
    assert counts["awaiting_review"] == "1"
    assert sum(int(n) for n in counts.values()) == PAGE_SIZE + 1
    assert client.get("/console/runs?page=2").text.count('class="badge st-') > 10  # counts too
    review = client.get("/console/runs?status=awaiting_review")
    assert waiting[:8] in review.text
    assert "Sida 1 av 1 (1 körningar)" in review.text
    by_day = client.get("/console/runs?day=2026-02-03")
    assert "(1 körningar)" in by_day.text
    nowhere = client.get("/console/runs?restaurant=someone-else")
    assert "Inga körningar matchar." in nowhere.text
    assert client.get(f"/console/runs?page={10**20}").status_code == 422  # not the database's


def test_a_run_page_in_english_has_both_texts_and_the_requests(signed_in: Desk) -> None:
    run_id = signed_in.waiting_run()
    page = signed_in.client.get(f"/console/runs/{run_id}?lang=en")
    assert "Texts for the restaurant" in page.text
    assert 'id="text-sv"' in page.text
    assert 'id="text-en"' in page.text
    assert "GET /3/voucherseries" in page.text
    assert "Approve and apply" in page.text
    remembered = signed_in.client.get("/console/runs?status=awaiting_review")
    assert "Waiting for review" in remembered.text  # the language is kept in a cookie
    assert 'href="/console/runs?status=awaiting_review&amp;lang=sv"' in remembered.text


def test_an_unknown_run_is_a_404_page(signed_in: Desk) -> None:
    answer = signed_in.client.get("/console/runs/nope")
    assert answer.status_code == 404
