"""Fortnox out of reach: a spinner while the CLI waits (on a terminal), and a report that says
what to do instead of "nothing left to do by hand"."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from remediator.cli.output import working
from tests.cli.conftest import run
from tests.loopback import free_port


def test_the_spinner_shows_on_a_terminal_only() -> None:
    shown = io.StringIO()
    with working("Reading Fortnox…", Console(file=shown, force_terminal=True)):
        pass
    assert "Reading Fortnox…" in shown.getvalue()
    quiet = io.StringIO()
    with working("Reading Fortnox…", Console(file=quiet, force_terminal=False)):
        pass
    assert quiet.getvalue() == ""


@pytest.mark.usefixtures("env")
def test_a_plan_when_fortnox_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("REMEDIATOR_FORTNOX_API_URL", f"{nowhere}/3")
    monkeypatch.setenv("REMEDIATOR_FORTNOX_OAUTH_URL", f"{nowhere}/oauth-v1")
    monkeypatch.setenv("REMEDIATOR_RETRY_ATTEMPTS", "1")
    added = run(
        "connections", "add", "bistro", "--label", "Bistro", "--tenant", "1",
        "--refresh-token-stdin", input="rt-1\n",
    )  # fmt: skip
    assert added.exit_code == 0
    failure = tmp_path / "failure.json"
    failure.write_text(
        json.dumps(
            {
                "event_id": "e1",
                "restaurant": {"id": "r1", "name": "Bistro"},
                "connection_id": "bistro",
                "export": {"kind": "z_report", "id": "z-1", "date": "2026-03-02"},
                "error": {"message": "Fel vid export: Verifikationsserien är inte manuell (F)"},
            }
        )
    )
    result = run("plan", str(failure), "--lang", "en")
    assert result.exit_code == 4
    words = " ".join(result.stdout.replace("│", " ").split())
    assert "Nothing left to do by hand" not in words
    assert (
        "If Fortnox could not be reached: check the network and Fortnox's status page "
        "(status.fortnox.se), then run the command again." in words
    )
