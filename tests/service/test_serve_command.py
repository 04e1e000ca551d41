"""``remediator serve`` refuses to start without the secrets that guard the service."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from remediator.cli import cli


def test_serve_needs_the_intake_secret_and_the_api_token(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "REMEDIATOR_INTAKE_SECRET and REMEDIATOR_API_TOKEN" in result.output
    monkeypatch.setenv("REMEDIATOR_INTAKE_SECRET", "s")
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "needs REMEDIATOR_API_TOKEN to be set" in result.output
