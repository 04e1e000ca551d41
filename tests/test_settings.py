"""Settings: the TOML file's defaults, environment overrides, clear errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from remediator.errors import ConfigError
from remediator.settings import TOOLING_PREFIXES, Settings, load_settings, unknown_variables

REPO = Path(__file__).parents[1]


def test_field_defaults_mirror_the_shipped_toml() -> None:
    shipped = tomllib.loads((REPO / "config" / "remediator.toml").read_text())
    defaults = Settings.model_construct()
    for key, value in shipped.items():
        current = getattr(defaults, key)
        if hasattr(current, "get_secret_value"):
            current = current.get_secret_value()
        if hasattr(current, "model_dump"):
            current = current.model_dump(mode="json")
        assert str(current) == str(value), key
    assert set(shipped) == set(Settings.model_fields)


def test_the_file_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "custom.toml"
    config.write_text('client_id = "from-file"\nhttp_timeout = 12.5\n')
    monkeypatch.setenv("REMEDIATOR_CONFIG", str(config))
    monkeypatch.setenv("REMEDIATOR_HTTP_TIMEOUT", "7")
    monkeypatch.setenv("REMEDIATOR_SECRET_KEY", "k")
    settings = load_settings()
    assert (settings.client_id, settings.http_timeout) == ("from-file", 7.0)
    assert settings.secret_key.get_secret_value() == "k"
    assert "k" not in repr(settings.secret_key)


def test_config_dir_in_the_working_directory_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "remediator.toml").write_text('client_id = "local"\n')
    assert load_settings().client_id == "local"


def test_a_missing_named_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_CONFIG", "/nowhere/remediator.toml")
    with pytest.raises(ConfigError, match=r"/nowhere/remediator\.toml"):
        load_settings()


def test_invalid_values_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_RATE_LIMIT_REQUESTS", "many")
    with pytest.raises(ConfigError, match="rate_limit_requests"):
        load_settings()


def test_an_unknown_remediator_variable_is_refused_with_the_nearest_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REMEDIATOR_HTTP_TIMOUT", "5")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "unknown setting in the environment: REMEDIATOR_HTTP_TIMOUT "
        "(did you mean REMEDIATOR_HTTP_TIMEOUT?)"
    )


@pytest.mark.parametrize(
    "name",
    ["REMEDIATOR_TESTING", "REMEDIATOR_TEST_POSTGRES_URL", "REMEDIATOR_BENCH_X"],
)
def test_test_and_bench_tooling_variables_are_left_alone(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "postgresql+psycopg://postgres@127.0.0.1/test")
    if name.startswith(TOOLING_PREFIXES):
        assert unknown_variables({name: "x"}) == []
        load_settings()
    else:
        assert unknown_variables({name: "x"})[0].startswith(name)


def test_variables_that_are_not_settings_are_known() -> None:
    environ = {"REMEDIATOR_CONFIG": "x", "REMEDIATOR_PLAYBOOKS_DIR": "y", "PATH": "/bin"}
    assert unknown_variables(environ) == []


def test_a_list_setting_in_the_environment_must_be_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_SCOPES", "bookkeeping")
    with pytest.raises(ConfigError, match=r"REMEDIATOR_SCOPES must be JSON for a list or table"):
        load_settings()
    monkeypatch.setenv("REMEDIATOR_SCOPES", '["bookkeeping", "settings"]')
    monkeypatch.setenv("REMEDIATOR_POLICY", '{"create_account": "never"}')
    settings = load_settings()
    assert settings.scopes == ["bookkeeping", "settings"]
    assert settings.policy.create_account.value == "never"


def test_a_malformed_toml_file_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "remediator.toml"
    config.write_text("http_timeout = \n")
    monkeypatch.setenv("REMEDIATOR_CONFIG", str(config))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"{config} is not valid TOML: Invalid value (at line 1, column 16)"


def test_a_database_url_must_be_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMEDIATOR_DATABASE_URL", "bogus")
    with pytest.raises(ConfigError, match=r"database_url: not a database URL \(sqlite:///"):
        load_settings()
