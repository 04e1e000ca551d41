"""``remediator sandbox capture``: a company's setup read from a served sandbox (GETs only)
into a state file; a sandbox started from that file answers the same reads the same way."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from remediator.sandbox import load_scenario
from tests.cli.conftest import run
from tests.loopback import free_port, stop, wait_until_listening

REPO = Path(__file__).parents[2]
SCHEMA = json.loads((REPO / "docs" / "sandbox-state.schema.json").read_text())
START_SECONDS = 20


@contextmanager
def served(*how: str) -> Iterator[str]:
    """``remediator sandbox …`` as its own process; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "remediator", "sandbox", *how, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(process, port, START_SECONDS)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def point_at(monkeypatch: pytest.MonkeyPatch, base: str) -> None:
    monkeypatch.setenv("REMEDIATOR_FORTNOX_API_URL", f"{base}/3")
    monkeypatch.setenv("REMEDIATOR_FORTNOX_OAUTH_URL", f"{base}/oauth-v1")
    monkeypatch.setenv("REMEDIATOR_CLIENT_ID", "remediator-demo")
    monkeypatch.setenv("REMEDIATOR_CLIENT_SECRET", "demo-secret")


def capture(connection: str, tenant: str, refresh_token: str, out: Path) -> dict[str, Any]:
    added = run(
        "connections",
        "add",
        connection,
        "--label",
        connection,
        "--tenant",
        tenant,
        "--refresh-token-stdin",
        input=refresh_token + "\n",
    )
    assert added.exit_code == 0, added.stderr
    result = run("sandbox", "capture", "--connection", connection, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert f"→ {out}" in result.stdout
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def api_methods(base: str) -> set[str]:
    """The methods of every Fortnox API request the sandbox saw (the token endpoint aside)."""
    log = httpx.get(f"{base}/_sandbox/requests").json()
    assert any(entry["path"].startswith("/3/accounts") for entry in log)
    return {entry["method"] for entry in log if entry["path"].startswith("/3/")}


@pytest.mark.slow
@pytest.mark.usefixtures("env")
def test_capture_then_a_sandbox_from_the_file_answers_the_same(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scenario = load_scenario("account_inactive")
    grant = scenario.grants[0]
    with served("--scenario", "account_inactive") as restaurant:
        point_at(monkeypatch, restaurant)
        first = capture("cafe", grant.tenant_id, grant.refresh_token, tmp_path / "state.json")
        assert api_methods(restaurant) == {"GET"}
    jsonschema.validate(first, SCHEMA)
    tenant = first["tenants"][0]
    assert tenant["tenant_id"] == grant.tenant_id
    assert tenant["company"] == {
        "CompanyName": "Café Linnea AB",
        "OrganizationNumber": "556000-0000",
    }
    assert tenant["locked_until"] == "2025-12-31"
    accounts = {a["number"]: a for a in tenant["charts"]["2"]["accounts"]}
    assert accounts[3001]["active"] is False
    assert accounts[1910]["active"] is True
    assert [s["code"] for s in tenant["series"]["2"]] == ["A", "F"]
    text = json.dumps(first, ensure_ascii=False)
    for personal in ("Anna", "anna@example.se", "559123-4567", "Göteborg", "Voucher", "Z-rapport"):
        assert personal not in text

    copy_grant = first["grants"][0]
    with served("--state", str(tmp_path / "state.json")) as home:
        point_at(monkeypatch, home)
        second = capture(
            "copy", copy_grant["tenant_id"], copy_grant["refresh_token"], tmp_path / "again.json"
        )
        assert api_methods(home) == {"GET"}
    same: Callable[[dict[str, Any]], dict[str, Any]] = lambda d: d | {"grants": None}  # noqa: E731
    assert same(second) == same(first)


@pytest.mark.usefixtures("env")
def test_capture_of_an_unknown_connection(tmp_path: Path) -> None:
    result = run("sandbox", "capture", "--connection", "nobody", "--out", str(tmp_path / "x.json"))
    assert (result.exit_code, result.stderr) == (2, "error: unknown connection 'nobody'\n")
    assert not (tmp_path / "x.json").exists()
