"""The state file: shipped scenarios, its committed JSON Schema, the BAS seed, and bad files
failing at load with the file, the JSON path inside it and what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from remediator.sandbox import Sandbox, SandboxStateError, load_scenario, scenario_names
from remediator.sandbox.state import Chart, json_schema, load_state, parse_state
from tests.sandbox.conftest import StateData, scenario_data, tenant

SCHEMA = Path(__file__).parents[2] / "docs" / "sandbox-state.schema.json"
SHIPPED = [
    "access_denied",
    "account_inactive",
    "chart_of_accounts_missing",
    "connection_invalidated",
    "healthy",
    "series_missing",
    "series_not_manual",
]


def test_committed_schema_is_up_to_date() -> None:
    committed = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert committed == json_schema(), (
        "docs/sandbox-state.schema.json is stale: "
        ".venv/bin/python -m remediator.sandbox.schema > docs/sandbox-state.schema.json"
    )


def test_the_shipped_scenarios_are_the_healthy_one_and_one_per_backoffice_error() -> None:
    assert scenario_names() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_scenario_loads_and_passes_the_committed_schema(name: str) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(scenario_data(name), schema)
    state = load_scenario(name)
    assert state.examples["z_report"]["voucher"]["VoucherSeries"] == "F"


def test_the_committed_schema_rejects_an_unknown_field() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    data = scenario_data()
    tenant(data)["colour"] = "blue"
    with pytest.raises(jsonschema.ValidationError, match="colour"):
        jsonschema.validate(data, schema)


def test_the_bas_restaurant_seed_holds_the_z_report_accounts() -> None:
    accounts = Chart(seed="bas-restaurant").expand()
    assert {1580, 1910, 1930, 2611, 2621, 2631, 3001, 3002, 3003, 3004, 3740} <= set(accounts)
    assert accounts[1910].description == "Kassa"
    assert all(a.active for a in accounts.values())
    assert list(accounts) == sorted(accounts)


def test_a_chart_adjusts_its_seed() -> None:
    chart = Chart.model_validate(
        {
            "seed": "bas-restaurant",
            "inactive": [3001],
            "missing": [1580],
            "accounts": [{"number": 1686, "description": "Kortfordringar"}],
        }
    )
    accounts = chart.expand()
    assert 1580 not in accounts
    assert accounts[3001].active is False
    assert accounts[1686].description == "Kortfordringar"
    assert Chart().expand() == {}


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def _problems(tmp_path: Path, data: Any) -> str:
    path = _write(tmp_path, data)
    with pytest.raises(SandboxStateError) as caught:
        load_state(path)
    message = str(caught.value)
    assert all(line.startswith(f"{path}: ") for line in message.splitlines()), message
    return message


def _edit(change: Any) -> StateData:
    data = scenario_data()
    change(data)
    return data


def test_a_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    assert "not JSON" in _problems(tmp_path, '{"clients": [')


def test_a_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SandboxStateError, match=r"nowhere\.json: cannot read"):
        load_state(tmp_path / "nowhere.json")


def test_an_unknown_scenario_lists_the_known_ones() -> None:
    with pytest.raises(SandboxStateError, match="unknown scenario 'nope'; known: access_denied"):
        load_scenario("nope")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: tenant(d).update(colour="blue"),
            "$.tenants[0].colour: Extra inputs are not permitted",
        ),
        (
            lambda d: tenant(d)["company"].update(Slogan="Gott"),
            "$.tenants[0].company.Slogan: Extra inputs are not permitted",
        ),
        (
            lambda d: tenant(d)["financial_years"][1].update(from_date="1 januari"),
            "$.tenants[0].financial_years[1].from_date: Input should be a valid date",
        ),
        (
            lambda d: tenant(d)["series"]["2"][0].update(code="ABCDEFGHIJK"),
            "$.tenants[0].series.2[0].code: String should have at most 10 characters",
        ),
        (
            lambda d: tenant(d)["charts"]["2"].update(seed="bas-bakery"),
            "$.tenants[0].charts.2.seed: Input should be 'bas-restaurant'",
        ),
        (
            lambda d: d["grants"][0].update(scopes=["bookkeeping", "everything"]),
            "$.grants[0].scopes[1]: Input should be 'bookkeeping'",
        ),
        (lambda d: tenant(d).update(licences=["payroll"]), "$.tenants[0].licences[0]: Input"),
        (
            lambda d: d.update(faults={"error_rate": {"/3/": 1.5}}),
            "$.faults.error_rate./3/: Input should be less than or equal to 1",
        ),
        (lambda d: d.pop("clients"), "$.clients: Field required"),
        (lambda d: d.update(clients=[]), "$.clients: List should have at least 1 item"),
    ],
    ids=[
        "unknown-field",
        "unknown-company-field",
        "bad-date",
        "series-code-too-long",
        "unknown-seed",
        "unknown-scope",
        "unknown-licence",
        "share-above-one",
        "missing-clients",
        "no-clients",
    ],
)
def test_a_bad_field_is_named_by_its_path(tmp_path: Path, change: Any, expected: str) -> None:
    assert expected in _problems(tmp_path, _edit(change))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["grants"][0].update(tenant_id="999"),
            "$.grants[0].tenant_id: unknown tenant '999'",
        ),
        (
            lambda d: d["grants"][0].update(client_id="other"),
            "$.grants[0].client_id: unknown client 'other'",
        ),
        (
            lambda d: d["consent"].update(user_id="u7"),
            "$.consent.user_id: unknown user 'u7' in that tenant",
        ),
        (
            lambda d: tenant(d)["series"].update({"3": []}),
            "$.tenants[0].series.3: financial year id 3 is not among financial_years",
        ),
        (
            lambda d: tenant(d)["charts"]["2"].update(inactive=[9999]),
            "$.tenants[0].charts.2.inactive[0]: account 9999 is not in this chart",
        ),
        (
            lambda d: tenant(d)["financial_years"][1].update(from_date="2025-12-01"),
            "$.tenants[0].financial_years[1]: overlaps financial year id 1",
        ),
        (
            lambda d: tenant(d)["financial_years"][1].update(to_date="2025-01-01"),
            "$.tenants[0].financial_years[1]: from_date is after to_date",
        ),
        (
            lambda d: tenant(d)["series"]["2"].append({"code": "F"}),
            "$.tenants[0].series.2[2].code: 'F' appears more than once",
        ),
        (
            lambda d: d["grants"].append(d["grants"][0] | {"name": "again"}),
            "$.grants[1].refresh_token: 'rt-healthy-1' appears more than once",
        ),
        (lambda d: tenant(d).update(users=[]), "$.tenants[0].users: a tenant needs at least one"),
    ],
    ids=[
        "grant-tenant",
        "grant-client",
        "consent-user",
        "series-year",
        "inactive-not-in-chart",
        "overlapping-years",
        "year-backwards",
        "duplicate-series",
        "duplicate-refresh-token",
        "no-users",
    ],
)
def test_an_inconsistent_state_is_named_by_its_path(
    tmp_path: Path, change: Any, expected: str
) -> None:
    assert expected in _problems(tmp_path, _edit(change))


def test_every_problem_is_reported_at_once() -> None:
    data = scenario_data()
    data["grants"][0]["tenant_id"] = "999"
    data["consent"]["tenant_id"] = "999"
    with pytest.raises(SandboxStateError) as caught:
        parse_state(json.dumps(data), "two.json")
    assert str(caught.value).splitlines() == [
        "two.json: $.grants[0].tenant_id: unknown tenant '999'",
        "two.json: $.consent.tenant_id: unknown tenant '999'",
    ]


def test_a_sandbox_runs_from_a_state_file(tmp_path: Path) -> None:
    path = _write(tmp_path, scenario_data("account_inactive"))
    sandbox = Sandbox.from_file(path)
    assert sandbox.world.companies["100004"].accounts[2][3001].active is False
