"""docs/sandbox.md stays true to the code: its example loads, and it names every scenario,
state field, fault and admin endpoint."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from remediator.sandbox import Sandbox, scenario_names
from remediator.sandbox.state import (
    Chart,
    Faults,
    FinancialYear,
    Grant,
    OAuthClient,
    SandboxState,
    Tenant,
    User,
    parse_state,
)

DOC = (Path(__file__).parents[2] / "docs" / "sandbox.md").read_text(encoding="utf-8")


def test_the_minimal_example_loads_and_works() -> None:
    example = DOC.split("### A minimal example", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    state = parse_state(example, "docs/sandbox.md")
    sandbox = Sandbox(state)
    chart = sandbox.world.companies["200001"].accounts[1]
    assert chart[3002].active is False
    assert sandbox.world.faults.latency == 0.2


@pytest.mark.parametrize("name", scenario_names())
def test_every_scenario_is_described(name: str) -> None:
    assert f"| `{name}` |" in DOC


@pytest.mark.parametrize(
    "model", [SandboxState, Tenant, OAuthClient, User, FinancialYear, Chart, Grant]
)
def test_every_state_field_is_described(model: type[BaseModel]) -> None:
    for name in model.model_fields:
        described = f"`{name}`" in DOC or f"`{name}[]`" in DOC
        assert described, f"docs/sandbox.md does not describe {model.__name__}.{name}"


def test_every_fault_is_described() -> None:
    for name in Faults.model_fields:
        assert f"| `{name}` |" in DOC


def test_every_admin_endpoint_is_described() -> None:
    routes = Sandbox.from_scenario("healthy").app.routes
    paths = {getattr(r, "path", "") for r in routes if getattr(r, "path", "").startswith("/_")}
    for path in paths:
        assert re.search(rf"`(GET|POST|PUT) {re.escape(path)}`", DOC), path
