"""``remediator sandbox``: bad usage and bad state files, and the real server on a free
loopback port, spoken to over TCP (including faults that only show on a real socket)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from remediator.cli import cli
from tests.loopback import free_port, stop, wait_until_listening
from tests.sandbox.conftest import REFRESH, basic, scenario_data
from tests.sandbox.openapi import check_answer

START_SECONDS = 20.0


def test_exactly_one_of_state_and_scenario_is_needed() -> None:
    runner = CliRunner()
    neither = runner.invoke(cli, ["sandbox"])
    both = runner.invoke(cli, ["sandbox", "--scenario", "healthy", "--state", "x.json"])
    for result in (neither, both):
        assert result.exit_code == 2
        assert "exactly one of --state FILE or --scenario NAME" in result.stderr


def test_a_bad_state_file_stops_the_command_naming_file_and_path(tmp_path: Path) -> None:
    data = scenario_data()
    data["tenants"][0]["colour"] = "blue"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(cli, ["sandbox", "--state", str(path)])
    assert result.exit_code == 2
    assert f"{path}: $.tenants[0].colour: Extra inputs are not permitted" in result.stderr


def test_an_unknown_scenario_stops_the_command() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "--scenario", "nope"])
    assert result.exit_code == 2
    assert "unknown scenario 'nope'" in result.stderr


@pytest.fixture
def served() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    command = [sys.executable, "-m", "remediator", "sandbox", "--scenario", "healthy"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_listening(process, port, START_SECONDS)
        yield f"http://127.0.0.1:{port}", process
    finally:
        stop(process)


def _checked(response: httpx.Response) -> httpx.Response:
    check_answer(response.request, response)
    return response


@pytest.mark.slow
def test_the_real_server_answers_over_tcp_and_drops_connections_for_real(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    base, process = served
    with httpx.Client(base_url=base, timeout=5) as http:
        tokens = _checked(
            http.post(
                "/oauth-v1/token",
                data={"grant_type": "refresh_token", "refresh_token": REFRESH},
                headers=basic(),
            )
        ).json()
        http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        info = _checked(http.get("/3/companyinformation")).json()
        assert info["CompanyInformation"]["DatabaseNumber"] == 100001
        reused = http.post(
            "/oauth-v1/token",
            data={"grant_type": "refresh_token", "refresh_token": REFRESH},
            headers=basic(),
        )
        assert reused.status_code == 400
        assert reused.headers["content-type"].startswith("text/html")
        http.post("/_sandbox/reset")
        http.headers["Authorization"] = (
            "Bearer "
            + (
                http.post(
                    "/oauth-v1/token",
                    data={"grant_type": "refresh_token", "refresh_token": REFRESH},
                    headers=basic(),
                ).json()["access_token"]
            )
        )
        http.put("/_sandbox/faults", json={"drop_rate": {"/3/me": 1}})
        with pytest.raises(httpx.RemoteProtocolError):
            http.get("/3/me")
        http.put("/_sandbox/faults", json={"timeout_after_write": 1})
        voucher = scenario_data()["examples"]["z_report"]["voucher"]
        with pytest.raises(httpx.ReadTimeout):
            http.post("/3/vouchers", json={"Voucher": voucher}, timeout=0.5)
        stored = http.get("/_sandbox/state").json()["tenants"]["100001"]["vouchers"]["2"]
        assert [v["VoucherNumber"] for v in stored] == [61]
        log = http.get("/_sandbox/requests").json()
        assert [entry.get("fault") for entry in log[-2:]] == ["dropped", "answer_lost"]
    process.terminate()
    out, err = process.communicate(timeout=10)
    assert f"sandbox listening on {base} (loopback only)" in out
    assert f"REMEDIATOR_FORTNOX_API_URL={base}/3" in out
    exports = [shlex.split(line) for line in out.splitlines() if "REMEDIATOR_" in line]
    assert len(exports) == 4
    assert all(len(words) == 2 and words[0] == "export" for words in exports)  # pastes whole
    assert ["export", "REMEDIATOR_CLIENT_SECRET=demo-secret"] in exports
    assert "Traceback" not in err  # injected faults are not server errors
