"""The console against the in-process sandbox: a harness, a person, and a logged-in client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from remediator.storage import Database
from remediator.storage.audit import Actor, AuditStore, Via
from remediator.storage.users import UserStore
from tests.service.conftest import AUTH, Harness, TestClient, harness_for, post_failure, wait_for

PASSWORD = "correct horse battery"
ADMIN = Actor("tester", Via.CLI)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


@dataclass
class Desk:
    harness: Harness
    client: TestClient
    users: UserStore
    audit: AuditStore

    def add_user(self, name: str = "eva", password: str = PASSWORD) -> None:
        self.users.add(name, f"{name}@example.se", ADMIN)
        self.users.set_password(name, password, ADMIN)

    def login(self, name: str = "eva", password: str = PASSWORD) -> httpx.Response:
        form = self.client.get("/console/login")
        answer: httpx.Response = self.client.post(
            "/console/login",
            data={"name": name, "password": password, "csrf": csrf_of(form), "next": ""},
            follow_redirects=False,
        )
        return answer

    def csrf(self, path: str = "/console/runs") -> str:
        return csrf_of(self.client.get(path))

    def waiting_run(self, *, day: str | None = None, callback: bool = False) -> str:
        """A run that waits for review (set_manual needs one)."""
        self.client.put(
            f"/v1/connections/{self.harness.connection_id}",
            headers=AUTH,
            json={"policy": {"set_manual": "review"}},
        ).raise_for_status()
        failure = self.harness.failure(f"evt-{day}", day=day, callback=callback)
        run_id: str = post_failure(self.client, failure).json()["run_id"]
        assert wait_for(self.client, run_id)["state"] == "awaiting_review"
        return run_id


def open_desk(
    tmp_path: Path, scenario: str = "series_not_manual", **overrides: object
) -> Iterator[Desk]:
    harness = harness_for(scenario, tmp_path)
    database = Database(harness.settings.database_url)
    with harness.client(harness.app(**overrides)) as client:
        harness.connect(client)
        yield Desk(harness, client, UserStore(database), AuditStore(database))


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    yield from open_desk(tmp_path)


@pytest.fixture
def signed_in(desk: Desk) -> Desk:
    desk.add_user()
    assert desk.login().status_code == 303
    return desk
